/// A growable byte buffer for output written by hand: appending reserves once and stores bytes,
/// no `String` is built per line and nothing is copied until the buffer is written out.
///
///     let out = ByteBuffer()
///     out.append("obj="); out.appendDecimal(UInt64(7)); out.append(0x0a)
///     out.bytes   // "obj=7\n"
public final class ByteBuffer {
    // Unchecked: the accesses are never overlapping, and the dynamic checks cost more than the
    // stores they guard.
    @exclusivity(unchecked) private var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) private var capacity: Int
    /// Bytes written so far.
    @exclusivity(unchecked) public private(set) var count = 0

    public init(capacity: Int = 1 << 16) {
        self.capacity = max(64, capacity)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// The bytes written, valid until the next change.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public func removeAll() { count = 0 }

    /// Makes room for `n` more bytes, so that the `unchecked` appends after it stay in bounds.
    @inline(__always)
    public func reserve(_ n: Int) {
        if count + n > capacity { grow(to: count + n) }
    }

    private func grow(to needed: Int) {
        var next = capacity * 2
        while next < needed { next *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: next)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = next
    }

    /// Appends a byte without checking room: only after `reserve`.
    @inline(__always)
    public func appendUnchecked(_ byte: UInt8) {
        base[count] = byte
        count += 1
    }

    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        appendUnchecked(byte)
    }

    /// Appends `n` copies of `byte`.
    @inline(__always)
    public func append(_ byte: UInt8, repeating n: Int) {
        guard n > 0 else { return }
        reserve(n)
        let target = base + count
        if n <= 32 {
            for i in 0..<n { target[i] = byte }
        } else {
            target.initialize(repeating: byte, count: n)
        }
        count += n
    }

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        copy(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
    }

    /// Short runs (names, small strings) by a loop: a memmove call costs more than they do.
    @inline(__always)
    private func copy(from source: UnsafePointer<UInt8>, count n: Int) {
        reserve(n)
        let target = base + count
        if n <= 16 {
            for i in 0..<n { target[i] = source[i] }
        } else {
            target.update(from: source, count: n)
        }
        count += n
    }

    @inline(__always)
    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The string's UTF-8 bytes.
    @inline(__always)
    public func append(_ string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends bytes `range` of `other` (another buffer: a table of encoded names).
    @inline(__always)
    public func append(_ range: Range<Int>, of other: ByteBuffer) {
        precondition(range.lowerBound >= 0 && range.upperBound <= other.count)
        copy(from: other.base + range.lowerBound, count: range.count)
    }

    /// The byte at `index` (< count).
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count)
        return base[index]
    }

    /// Removes the first `n` bytes, keeping the rest (what a partial write left).
    public func removeFirst(_ n: Int) {
        precondition(n >= 0 && n <= count)
        if n < count { base.update(from: base + n, count: count - n) }
        count -= n
    }

    // MARK: Numbers

    /// Number of decimal digits of `v` (1 for 0).
    @inline(__always)
    public static func decimalDigits(_ v: UInt64) -> Int {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && v >= limit {
            digits += 1
            if digits < 20 { limit &*= 10 }
        }
        return digits
    }

    /// `v` in decimal, as `String(v)` writes it.
    @inline(__always)
    public func appendDecimal(_ v: UInt64) {
        if v < 10 {
            append(48 + UInt8(truncatingIfNeeded: v))
            return
        }
        let digits = Self.decimalDigits(v)
        reserve(digits)
        writeDigits(v, count: digits)
        count += digits
    }

    /// `v` in decimal, as `String(v)` writes it (`-` first when negative; `Int64.min` too).
    @inline(__always)
    public func appendDecimal(_ v: Int64) {
        if v < 0 {
            append(0x2d)
            appendDecimal(0 &- UInt64(bitPattern: v))
        } else {
            appendDecimal(UInt64(v))
        }
    }

    /// `v` in exactly `width` digits, zero-padded on the left (`v` must fit).
    @inline(__always)
    public func appendDecimal(_ v: UInt64, zeroPaddedTo width: Int) {
        assert(width >= Self.decimalDigits(v))
        reserve(width)
        writeDigits(v, count: width)
        count += width
    }

    /// Writes the last `n` decimal digits of `v` at `count ..< count + n` (right to left).
    @inline(__always)
    private func writeDigits(_ v: UInt64, count n: Int) {
        var v = v
        var at = count + n
        while at - count >= 2 {
            let pair = UInt8(truncatingIfNeeded: v % 100)
            v /= 100
            at -= 2
            base[at] = 48 + pair / 10
            base[at + 1] = 48 + pair % 10
        }
        if at > count {
            at -= 1
            base[at] = 48 + UInt8(truncatingIfNeeded: v % 10)
        }
    }

    /// Nanoseconds as seconds with `decimals` (0...9) places, truncated as the kernel prints them:
    /// `appendSeconds(4_409_061_123, decimals: 6)` writes `4.409061`.
    @inline(__always)
    public func appendSeconds(_ ns: UInt64, decimals: Int) {
        appendDecimal(ns / 1_000_000_000)
        guard decimals > 0 else { return }
        append(0x2e)
        var divisor: UInt64 = 1
        for _ in decimals..<9 { divisor *= 10 }
        appendDecimal((ns % 1_000_000_000) / divisor, zeroPaddedTo: decimals)
    }

    /// The width `appendSeconds` writes.
    @inline(__always)
    public static func secondsWidth(_ ns: UInt64, decimals: Int) -> Int {
        decimalDigits(ns / 1_000_000_000) + (decimals > 0 ? decimals + 1 : 0)
    }


    /// `b` in lowercase hexadecimal without padding, as `String(b, radix: 16)`.
    @inline(__always)
    public func appendHex(_ b: UInt8) {
        let hex: (UInt8) -> UInt8 = { $0 < 10 ? 48 + $0 : 87 + $0 }
        if b >= 16 { append(hex(b >> 4)) }
        append(hex(b & 15))
    }
}
