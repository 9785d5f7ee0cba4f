#if FUZZING
/// libFuzzer's entry point (`make fuzz` builds with -DFUZZING).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    RewriterCheck.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
#endif
