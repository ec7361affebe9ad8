/// `--listen ADDR:PORT`: an IPv4 address, `[IPv6]` or a host name, then a port (0: any free port).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public static let defaultText = "127.0.0.1:9464"

    public init(host: String, port: Int) { (self.host, self.port) = (host, port) }

    /// nil with the reason when `text` is not one.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressError> {
        guard let colon = text.lastIndex(of: ":") else { return .failure(.init("'\(text)' has no port: give ADDR:PORT, e.g. \(defaultText)")) }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        guard let port = Int(portText), (0...65535).contains(port) else {
            return .failure(.init("'\(text)': the port must be a number from 0 to 65535"))
        }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return .failure(.init("'\(text)': an IPv6 address goes in brackets, e.g. [::1]:9464")) }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return .failure(.init("'\(text)': an IPv6 address goes in brackets, e.g. [::1]:9464"))
        }
        guard !host.isEmpty else { return .failure(.init("'\(text)' has no address: give e.g. 0.0.0.0:\(port) for every interface")) }
        return .success(ListenAddress(host: host, port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

public struct ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
