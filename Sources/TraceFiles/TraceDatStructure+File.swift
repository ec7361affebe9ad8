import TraceDatFormat

extension TraceDatStructure {
    /// The structure check over a mapped file: errors name the file; pages already checked are
    /// dropped from memory as the check goes (`.all` touches every page header of the file).
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String, pages: PageCheck = .all,
                      allowingCut: Bool = false) throws(TraceFileError) -> TraceDatStructure {
        do {
            return try parse(bytes, pages: pages, allowingCut: allowingCut) { upTo in MappedFile.release(bytes, upTo: upTo) }
        } catch {
            throw TraceFileError(path: path, message: error.message, byteOffset: error.byteOffset)
        }
    }

    /// `checkAllPages` over a mapped file, the checked pages dropped from memory as it goes.
    mutating func checkAllPages(_ file: MappedFile) throws(TraceFileError) {
        do {
            try checkAllPages(file.bytes)
        } catch {
            throw TraceFileError(path: file.path, message: error.message, byteOffset: error.byteOffset)
        }
        file.dropResidentPages()
    }
}
