import NIOCore
import OndemandTraceCore
import NIOHTTP1
import NIOPosix

/// The `/metrics` endpoint on swift-nio's HTTP/1 server pipeline: `GET /metrics` answers the
/// exposition `render` returns (OpenMetrics when the Accept header asks for it, as Prometheus's
/// scraper does; else the Prometheus text format), `/` a pointer to it, anything else 404/405.
public final class MetricsHTTPServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The address bound (the port the kernel chose for port 0).
    public let boundAddress: ListenAddress

    /// Binds and starts serving on one event-loop thread. `render(openMetrics)` runs on it.
    public static func start(host: String, port: Int,
                             render: @escaping @Sendable (_ openMetrics: Bool) -> [UInt8]) throws(MonitorError) -> MetricsHTTPServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMap {
                    channel.pipeline.addHandler(MetricsRequestHandler(render: render))
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
        do {
            let channel = try bootstrap.bind(host: host, port: port).wait()
            let bound = channel.localAddress
            return MetricsHTTPServer(group: group, channel: channel,
                                     bound: ListenAddress(host: bound?.ipAddress ?? host, port: bound?.port ?? port))
        } catch {
            try? group.syncShutdownGracefully()
            throw MonitorError(Self.describe(error, host: host, port: port))
        }
    }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel, bound: ListenAddress) {
        (self.group, self.channel, boundAddress) = (group, channel, bound)
    }

    /// Closes the listening socket and the connections, and ends the thread.
    public func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    static func describe(_ error: any Error, host: String, port: Int) -> String {
        let address = ListenAddress(host: host, port: port)
        if let io = error as? IOError {
            switch io.errnoCode {
            case EADDRINUSE: return "--listen \(address): the address is already in use (another monitor or exporter on that port?)"
            case EADDRNOTAVAIL: return "--listen \(address): no such address on this machine"
            case EACCES: return "--listen \(address): permission denied (ports below 1024 need root)"
            default: return "--listen \(address): cannot listen: \(io.description)"
            }
        }
        return "--listen \(address): cannot listen: \(error)"
    }
}

/// One connection's requests: HTTP/1.1 keep-alive as the pipeline negotiated it.
final class MetricsRequestHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable (Bool) -> [UInt8]
    // Touched only on the channel's event loop.
    nonisolated(unsafe) private var head: HTTPRequestHead?

    init(render: @escaping @Sendable (Bool) -> [UInt8]) { self.render = render }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: [UInt8]
        switch (head.method, path) {
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            let openMetrics = OpenMetricsText.wanted(accept: head.headers.first(name: "accept"))
            status = .ok
            body = render(openMetrics)
            headers.add(name: "Content-Type", value: openMetrics ? OpenMetricsText.contentType : OpenMetricsText.prometheusContentType)
        case (.GET, "/"), (.HEAD, "/"):
            status = .ok
            body = Array("ondemand-trace monitor: metrics at /metrics\n".utf8)
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        case (.GET, _), (.HEAD, _):
            status = .notFound
            body = Array("not found: the metrics are at /metrics\n".utf8)
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        default:
            status = .methodNotAllowed
            body = Array("only GET and HEAD\n".utf8)
            headers.add(name: "Allow", value: "GET, HEAD")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        }
        headers.add(name: "Content-Length", value: String(body.count))
        if head.method == .HEAD { body = [] }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
