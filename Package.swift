// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "veil",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "veil", targets: ["veil"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // 4.x: Ed25519 keys in PEM (CryptoExtras); RSA PKCS#1 v1.5 for DKIM.
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // X.509 path validation for DANE-TA (RFC 7672 §3.1.2): NIOSSL exposes no DANE API.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        // MTA-STS policies and TLS reports over HTTPS (RFC 8461 §3.3, RFC 8460 §5.4).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CUnbound", pkgConfig: "libunbound", providers: [.apt(["libunbound-dev"])]),
        .systemLibrary(name: "CIDN2", pkgConfig: "libidn2", providers: [.apt(["libidn2-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "SMTPCore",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "MessageRewriter",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // DKIM signing (RFC 6376, RFC 8463): canonicalization, keys, the signing stage
        // the scrubbed message streams through.
        .target(
            name: "DKIM",
            dependencies: [
                "MessageRewriter",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // SMTP TLS reports (RFC 8460): the report, the day's tally of session results,
        // the report mail; gzip through zlib.
        .target(name: "TLSReporting", dependencies: ["CZlib"]),
        // The configuration file's reader: TOML 1.0, every value with its line. No dependencies.
        .target(name: "TOML"),
        // Connection-level pieces both sides share: the registry of open
        // connections (for shutdown), the TLS cipher recorder, TLS protocol names.
        .target(
            name: "Connections",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The catalogue of Veil's log lines: one case per event, with its fields.
        .target(
            name: "LogEvents",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "SMTPNIO",
            dependencies: [
                "SMTPCore", "Connections", "LogEvents",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "MailQueue",
            dependencies: [
                "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // What domains publish about TLS, parsed: TLSA (RFC 6698), MTA-STS records and
        // policies (RFC 8461), TLSRPT records (RFC 8460). No network, no TLS library.
        .target(name: "PolicyRecords", dependencies: ["SMTPCore"]),
        .target(
            name: "Delivery",
            dependencies: [
                "SMTPCore", "Connections", "CUnbound", "CIDN2", "PolicyRecords",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        // The outbound side: its decisions, pure (where mail goes: Router, InternalNetworks;
        // which due mail goes into which sessions: DeliveryPlanner; what a reply means for
        // a recipient: OutcomePolicy), and the QueueRunner that wires them to the queue
        // and a DeliveryTransport.
        .target(
            name: "Outbound",
            dependencies: [
                "MailQueue", "SMTPCore", "Delivery", "PolicyRecords", "Connections", "LogEvents", "TLSReporting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Relay",
            dependencies: [
                "SMTPCore", "SMTPNIO", "Connections", "LogEvents", "MailQueue", "MessageRewriter", "DKIM", "Delivery", "PolicyRecords", "Outbound", "TOML",
                "TLSReporting", "CSystemd", "CCrypt",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // libFuzzer targets (`make fuzz`); built normally they replay the files given as arguments.
        .target(name: "FuzzSupport"),
        .executableTarget(
            name: "RewriterFuzzer",
            dependencies: ["MessageRewriter", "FuzzSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "CommandFuzzer",
            dependencies: ["SMTPCore", "FuzzSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "DataReaderFuzzer",
            dependencies: ["SMTPCore", "FuzzSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "SessionFuzzer",
            dependencies: ["SMTPCore", "FuzzSupport", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "TOMLFuzzer",
            dependencies: ["TOML", "FuzzSupport"]
        ),
        .executableTarget(
            name: "DKIMFuzzer",
            dependencies: [
                "DKIM", "FuzzSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "TLSPolicyFuzzer",
            dependencies: ["PolicyRecords", "SMTPCore", "FuzzSupport"]
        ),
        // Benchmarks (`make bench`): figures printed, never timed tests.
        .executableTarget(
            name: "veil-bench",
            dependencies: [
                "MessageRewriter", "DKIM", "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "veil",
            dependencies: [
                "Relay",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "SMTPCoreTests",
            dependencies: ["SMTPCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "MessageRewriterTests",
            dependencies: [
                "MessageRewriter",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "DKIMTests",
            dependencies: [
                "DKIM",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "TLSReportingTests",
            dependencies: ["TLSReporting", "CZlib"]
        ),
        .testTarget(
            name: "TOMLTests",
            dependencies: ["TOML"],
            exclude: ["tomllib_cases.py"]
        ),
        .testTarget(
            name: "DeliveryTests",
            dependencies: [
                "Delivery", "PolicyRecords", "SMTPCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "OutboundTests",
            dependencies: [
                "Outbound", "MailQueue", "SMTPCore", "Connections", "Delivery", "PolicyRecords", "TLSReporting",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "MailQueueTests",
            dependencies: ["MailQueue", "SMTPCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "SMTPNIOTests",
            dependencies: [
                "SMTPNIO", "SMTPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "RelayTests",
            dependencies: [
                "Relay", "SMTPNIO", "MailQueue", "TOML", "LogEvents", "Outbound", "Delivery", "PolicyRecords", "SMTPCore", "DKIM",
                "TLSReporting",
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
