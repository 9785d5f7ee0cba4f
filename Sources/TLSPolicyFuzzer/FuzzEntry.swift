import FuzzSupport

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt { Fuzzing.entry(data, size, TLSPolicyCheck.run) }
#else
@main enum Replay { static func main() { Fuzzing.replay("TLSPolicyFuzzer", TLSPolicyCheck.run) } }
#endif
