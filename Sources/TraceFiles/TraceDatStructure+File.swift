import TraceDatFormat

extension TraceDatStructure {
    /// The structure check over a mapped file: errors name the file; pages already checked are
    /// dropped from memory as the check goes (it touches every page header of the file).
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws(TraceFileError) -> TraceDatStructure {
        do {
            return try parse(bytes) { upTo in MappedFile.release(bytes, upTo: upTo) }
        } catch {
            throw TraceFileError(path: path, message: error.message, byteOffset: error.byteOffset)
        }
    }
}
