//! The verdicts Amazon SES receiving adds to each message, as filter
//! inputs: spam and virus scanning (`X-SES-Spam-Verdict`,
//! `X-SES-Virus-Verdict`: `PASS`, `FAIL`, `GRAY`, `PROCESSING_FAILED`),
//! SPF (`Received-SPF`) and DKIM and DMARC (`Authentication-Results` by
//! `amazonses.com`).
//!
//! SES prepends its headers, so only the first occurrence of each counts:
//! a sender can write any of these headers into the message itself, and
//! those copies come after SES's. An `Authentication-Results` field counts
//! only when its authentication service is `amazonses.com`.
//!
//! [`decide`] applies the policy: a message that failed virus scanning is
//! never a ticket; spam and authentication failures are skipped or made
//! tickets with a flag, as the rules file says ([`VerdictPolicy`]).

use serde::Deserialize;

use crate::message::Message;

/// The authentication service id SES writes in `Authentication-Results`.
pub const SES_AUTHSERV_ID: &str = "amazonses.com";

/// One scan's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    Pass,
    Fail,
    Gray,
    ProcessingFailed,
    /// No such header, or a value SES does not write.
    Unknown,
}

/// One authentication check's result (RFC 8601 result keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
    /// No such result in the header, or an unknown keyword.
    Unknown,
}

/// The verdicts of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub spam: Scan,
    pub virus: Scan,
    pub spf: Auth,
    pub dkim: Auth,
    pub dmarc: Auth,
}

/// What to do with a message whose verdict failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictAction {
    /// No ticket (the message is recorded as skipped, with the reason).
    Skip,
    /// A ticket, flagged in its applied rules.
    #[default]
    Flag,
}

/// The rules file's policy for SES verdicts (`[ses]`: `spam`,
/// `authentication`). A virus is always skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictPolicy {
    /// Spam verdict `FAIL`.
    #[serde(default)]
    pub spam: VerdictAction,
    /// DMARC `fail`, or, without a DMARC result, SPF and DKIM both failing.
    #[serde(default)]
    pub authentication: VerdictAction,
}

/// What the verdicts decide for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerdictDecision {
    /// Nothing failed (or nothing was checked).
    Pass,
    /// Make the ticket, with these flags (`spam`, `authentication`).
    Flag(Vec<&'static str>),
    /// No ticket; the reason's code (`virus`, `spam`, `authentication`).
    Skip(&'static str),
}

impl Verdicts {
    /// The verdicts in `message`'s headers (see the module doc for which
    /// occurrences count).
    pub fn of(message: &Message) -> Verdicts {
        let first = |name: &str| message.header(name);
        let results = message
            .headers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("authentication-results"))
            .map(|h| h.value.as_str())
            .find(|v| authserv_id(v).eq_ignore_ascii_case(SES_AUTHSERV_ID));
        Verdicts {
            spam: first("x-ses-spam-verdict").map_or(Scan::Unknown, scan),
            virus: first("x-ses-virus-verdict").map_or(Scan::Unknown, scan),
            spf: first("received-spf")
                .and_then(|v| v.split_whitespace().next())
                .map_or(Auth::Unknown, auth),
            dkim: results
                .and_then(|r| method_result(r, "dkim"))
                .map_or(Auth::Unknown, auth),
            dmarc: results
                .and_then(|r| method_result(r, "dmarc"))
                .map_or(Auth::Unknown, auth),
        }
    }

    /// Did authentication fail: DMARC `fail`, or without a DMARC result,
    /// SPF and DKIM both failing?
    pub fn authentication_failed(&self) -> bool {
        match self.dmarc {
            Auth::Fail => true,
            Auth::Pass => false,
            _ => {
                matches!(self.spf, Auth::Fail | Auth::SoftFail)
                    && matches!(self.dkim, Auth::Fail | Auth::None | Auth::Unknown)
                    && self.dkim != Auth::Unknown
            }
        }
    }
}

/// Apply `policy` to `verdicts`.
pub fn decide(verdicts: &Verdicts, policy: &VerdictPolicy) -> VerdictDecision {
    if verdicts.virus == Scan::Fail {
        return VerdictDecision::Skip("virus");
    }
    let mut flags = Vec::new();
    for (failed, action, code) in [
        (verdicts.spam == Scan::Fail, policy.spam, "spam"),
        (
            verdicts.authentication_failed(),
            policy.authentication,
            "authentication",
        ),
    ] {
        if !failed {
            continue;
        }
        match action {
            VerdictAction::Skip => return VerdictDecision::Skip(code),
            VerdictAction::Flag => flags.push(code),
        }
    }
    if flags.is_empty() {
        VerdictDecision::Pass
    } else {
        VerdictDecision::Flag(flags)
    }
}

fn scan(value: &str) -> Scan {
    match value.trim().to_ascii_uppercase().as_str() {
        "PASS" => Scan::Pass,
        "FAIL" => Scan::Fail,
        "GRAY" => Scan::Gray,
        "PROCESSING_FAILED" => Scan::ProcessingFailed,
        _ => Scan::Unknown,
    }
}

fn auth(value: &str) -> Auth {
    match value
        .trim()
        .trim_end_matches(';')
        .to_ascii_lowercase()
        .as_str()
    {
        "pass" => Auth::Pass,
        "fail" | "hardfail" => Auth::Fail,
        "softfail" => Auth::SoftFail,
        "neutral" => Auth::Neutral,
        "none" => Auth::None,
        "temperror" => Auth::TempError,
        "permerror" => Auth::PermError,
        _ => Auth::Unknown,
    }
}

/// The authentication service id: the field's first token, before `;`.
fn authserv_id(value: &str) -> &str {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default()
}

/// The result of the first `method=result` of an `Authentication-Results`
/// value (comments in parentheses are skipped by splitting on `;`).
fn method_result<'a>(value: &'a str, method: &str) -> Option<&'a str> {
    value.split(';').skip(1).find_map(|part| {
        let part = part.trim();
        let (name, rest) = part.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(method)
            .then(|| rest.split_whitespace().next().unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Header;

    fn with(headers: &[(&str, &str)]) -> Message {
        Message {
            headers: Some(
                headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: (*n).to_string(),
                        value: (*v).to_string(),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    const SES_RESULTS: &str = "amazonses.com; spf=pass (spfCheck: domain of example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=ann@example.com; helo=mail.example.com; dkim=pass header.i=@example.com; dmarc=pass header.from=example.com;";

    fn clean() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Return-Path", "<ann@example.com>"),
            (
                "Received",
                "from mail.example.com by inbound-smtp.us-east-1.amazonaws.com with SMTP id abc for support@acme.example; Thu, 03 Dec 2026 10:00:00 +0000 (UTC)",
            ),
            ("X-SES-Spam-Verdict", "PASS"),
            ("X-SES-Virus-Verdict", "PASS"),
            (
                "Received-SPF",
                "pass (spfCheck: domain of example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1;",
            ),
            ("Authentication-Results", SES_RESULTS),
        ]
    }

    #[test]
    fn a_clean_message_passes() {
        let v = Verdicts::of(&with(&clean()));
        assert_eq!(
            v,
            Verdicts {
                spam: Scan::Pass,
                virus: Scan::Pass,
                spf: Auth::Pass,
                dkim: Auth::Pass,
                dmarc: Auth::Pass
            }
        );
        assert_eq!(decide(&v, &VerdictPolicy::default()), VerdictDecision::Pass);
    }

    #[test]
    fn a_virus_is_always_skipped() {
        let mut h = clean();
        h[3] = ("X-SES-Virus-Verdict", "FAIL");
        let v = Verdicts::of(&with(&h));
        assert_eq!(v.virus, Scan::Fail);
        let lenient = VerdictPolicy {
            spam: VerdictAction::Flag,
            authentication: VerdictAction::Flag,
        };
        assert_eq!(decide(&v, &lenient), VerdictDecision::Skip("virus"));
    }

    #[test]
    fn spam_and_authentication_follow_the_policy() {
        let mut h = clean();
        h[2] = ("X-SES-Spam-Verdict", "FAIL");
        h[5] = (
            "Authentication-Results",
            "amazonses.com; spf=fail client-ip=192.0.2.9; dkim=fail header.i=@example.com; dmarc=fail header.from=example.com;",
        );
        let v = Verdicts::of(&with(&h));
        assert!(v.authentication_failed());
        assert_eq!(
            decide(&v, &VerdictPolicy::default()),
            VerdictDecision::Flag(vec!["spam", "authentication"])
        );
        let strict = VerdictPolicy {
            spam: VerdictAction::Flag,
            authentication: VerdictAction::Skip,
        };
        assert_eq!(decide(&v, &strict), VerdictDecision::Skip("authentication"));
        let no_spam = VerdictPolicy {
            spam: VerdictAction::Skip,
            authentication: VerdictAction::Flag,
        };
        assert_eq!(decide(&v, &no_spam), VerdictDecision::Skip("spam"));
    }

    #[test]
    fn headers_written_by_the_sender_do_not_count() {
        // The sender's own copies come after SES's; a forged
        // Authentication-Results of another service is ignored.
        let mut h = clean();
        h.push(("X-SES-Virus-Verdict", "FAIL"));
        h.insert(
            0,
            (
                "Authentication-Results",
                "mx.forged.example; dmarc=fail header.from=example.com",
            ),
        );
        let v = Verdicts::of(&with(&h));
        assert_eq!(v.virus, Scan::Pass);
        assert_eq!(v.dmarc, Auth::Pass);
    }

    #[test]
    fn missing_verdicts_are_unknown_and_pass() {
        let v = Verdicts::of(&with(&[("Subject", "hello")]));
        assert_eq!(v.spam, Scan::Unknown);
        assert_eq!(v.dmarc, Auth::Unknown);
        assert!(!v.authentication_failed());
        assert_eq!(decide(&v, &VerdictPolicy::default()), VerdictDecision::Pass);
        let none = Verdicts::of(&Message::default());
        assert_eq!(none.virus, Scan::Unknown);
    }

    #[test]
    fn without_dmarc_spf_and_dkim_must_both_fail() {
        let v = |spf, dkim| Verdicts {
            spam: Scan::Pass,
            virus: Scan::Pass,
            spf,
            dkim,
            dmarc: Auth::Unknown,
        };
        assert!(v(Auth::Fail, Auth::Fail).authentication_failed());
        assert!(v(Auth::SoftFail, Auth::None).authentication_failed());
        assert!(!v(Auth::Fail, Auth::Pass).authentication_failed());
        assert!(!v(Auth::Pass, Auth::Fail).authentication_failed());
        assert!(!v(Auth::Fail, Auth::Unknown).authentication_failed());
    }

    #[test]
    fn policy_reads_from_toml() {
        let p: VerdictPolicy = toml::from_str("spam = \"skip\"").unwrap();
        assert_eq!(p.spam, VerdictAction::Skip);
        assert_eq!(p.authentication, VerdictAction::Flag);
        assert!(toml::from_str::<VerdictPolicy>("virus = \"flag\"").is_err());
    }
}
