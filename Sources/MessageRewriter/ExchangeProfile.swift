/// The header fields the built-in `exchange` profile removes in `[scrub] mode =
/// "denylist"`. This list is the one place they are named; docs/scrubbing.md
/// explains each entry. A trailing `*` matches every name with that prefix. Names
/// are matched case-insensitively.
public enum ExchangeProfile {
    public static let removedFields = [
        // Trace fields: the internal hop chain with host names and addresses.
        "Received", "X-Received", "Return-Path",
        // The client and its address.
        "X-Originating-IP", "X-Originating-Client", "X-Source*",
        // Mail software and its versions.
        "X-Mailer", "User-Agent", "X-MimeOLE",
        // Exchange and Exchange Online transport and organization data.
        "X-MS-Exchange-*", "X-Microsoft-Exchange-*", "X-MS-Office365-*",
        "X-MS-Has-Attach", "X-MS-TNEF-Correlator", "X-MS-PublicTrafficType",
        "X-MS-TrafficTypeDiagnostic", "X-EOPAttributedMessage", "X-EOPTenantAttributedMessage", "X-MS-Oob-*",
        "X-LD-Processed",
        "X-Microsoft-Antispam*", "X-Exchange-Antispam*", "X-Forefront-*",
        // Added by Exchange send connectors and hybrid setups: name the server.
        "X-CrossPremisesHeaders*", "X-OrganizationHeadersPreserved", "X-OriginatorOrg",
        // Outlook conversation tracking and client locale.
        "Thread-Index", "Thread-Topic", "Accept-Language",
        // Microsoft Information Protection labels (tenant and label ids).
        "msip_labels",
        // Auto-reply suppression hints that reveal Exchange internals.
        "X-Auto-Response-Suppress",
        // The frontend (CAS) that proxied a submission, and the mailbox server it went to.
        "X-ClientProxiedBy",
        // Verdicts of internal servers: host names, the submitting account.
        "Received-SPF", "Authentication-Results", "ARC-*",
        // Signatures made inside: the selector names the signer, and the fields Veil
        // removes break them anyway.
        "DKIM-Signature", "DomainKey-Signature",
        // A proxy's record of the client address.
        "X-Forwarded-For",
        // Gateways and signature tools: product names, versions, server names.
        "X-TM-*", "X-Exclaimer-*", "X-CodeTwo-*", "X-Virus-Scanned", "X-Spam-*",
    ]
}
