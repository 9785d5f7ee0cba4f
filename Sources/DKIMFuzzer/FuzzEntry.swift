import FuzzSupport

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { Fuzzing.entry(data, size, DKIMCheck.run) }
#else
@main enum Replay { static func main() { Fuzzing.replay("DKIMFuzzer", DKIMCheck.run) } }
#endif
