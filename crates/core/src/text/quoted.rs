//! Stage 2 of the text extraction, for every body format: the quoted
//! history of earlier messages cut from plain text ([`strip_quoted`]):
//! attribution lines, quoted header blocks, "Original Message" separators
//! and `>`-prefixed lines, with the words and labels that mark them in
//! several languages.

/// Verbs that end an "On <date>, <name> wrote:" attribution line, lower-case.
const WROTE: &[&str] = &[
    "wrote",
    "writes",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "scrisse",
    "geschreven",
    "schreef",
    "escreveu",
    "skrev",
    "napisał",
    "napisała",
    "kirjoitti",
    "írta",
    "написал",
    "написала",
    "написал(а)",
    "пишет",
    "写道",
];

/// Words that start an attribution ("On ...", "Am ...", "Le ...").
const ATTRIBUTION_START: &[&str] = &[
    "on ", "am ", "le ", "el ", "il ", "op ", "em ", "den ", "dnia ", "w dniu ", "в ", "pe ",
];

/// Header labels of a quoted header block ("From:", "Von:", "От:").
const FROM_LABELS: &[&str] = &[
    "from",
    "von",
    "de",
    "da",
    "van",
    "från",
    "fra",
    "od",
    "от",
    "lähettäjä",
    "feladó",
    "发件人",
    "寄件者",
    "差出人",
];

/// Date labels of a quoted header block ("Sent:", "Date:", "Gesendet:").
const DATE_LABELS: &[&str] = &[
    "sent",
    "date",
    "gesendet",
    "datum",
    "envoyé",
    "enviado",
    "fecha",
    "inviato",
    "data",
    "verzonden",
    "skickat",
    "sendt",
    "wysłano",
    "отправлено",
    "дата",
    "lähetetty",
    "发送时间",
    "日期",
    "送信日時",
];

/// Other labels that may sit inside a quoted header block.
const OTHER_LABELS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "subject",
    "reply-to",
    "an",
    "betreff",
    "kopie",
    "à",
    "a",
    "objet",
    "para",
    "asunto",
    "oggetto",
    "aan",
    "onderwerp",
    "till",
    "ämne",
    "til",
    "emne",
    "do",
    "temat",
    "кому",
    "тема",
    "копия",
    "vastaanottaja",
    "aihe",
    "收件人",
    "主题",
    "宛先",
    "件名",
    "on behalf of",
];

/// "-----Original Message-----" and its translations, lower-case.
const ORIGINAL_MESSAGE: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "oorspronkelijk bericht",
    "originalmeddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "wiadomość oryginalna",
    "исходное сообщение",
    "alkuperäinen viesti",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    From,
    Date,
    Other,
}

/// Text-level quote stripping (stage 2 of [`visible_text`]): cuts at the
/// first attribution line ("On ... wrote:"), quoted header block ("From:"
/// with "Sent:"/"Date:") or "-----Original Message-----" separator, removes
/// `>`-prefixed lines (with an "...<a@b.c>:" line right above them), and
/// tidies blank lines. Linear in the input.
///
/// [`visible_text`]: super::visible_text
pub fn strip_quoted(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = history_start(&lines).unwrap_or(lines.len());

    let mut kept: Vec<&str> = Vec::with_capacity(end);
    let mut in_quote = false;
    for line in &lines[..end] {
        let trimmed = line.trim_start();
        if trimmed.starts_with('>') {
            if !in_quote {
                drop_attribution_above(&mut kept);
            }
            in_quote = true;
            continue;
        }
        if !trimmed.is_empty() {
            in_quote = false;
        }
        kept.push(line.trim_end());
    }

    // Trailing blank lines and separators (the "____" Outlook puts above
    // the header block, a dashed rule) are leftovers of the cut.
    while let Some(last) = kept.last() {
        if last.trim().is_empty() || is_separator(last) {
            kept.pop();
        } else {
            break;
        }
    }

    // One blank line at most between paragraphs, none at the start.
    let mut out: Vec<&str> = Vec::with_capacity(kept.len());
    for line in kept {
        let blank = line.trim().is_empty();
        if blank && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(if blank { "" } else { line });
    }
    out.join("\n")
}

/// Index of the first line of the quoted history, if any.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(start) = attribution_start(lines, i) {
            return Some(start);
        }
        if is_original_message(trimmed) || is_header_block(lines, i) {
            return Some(i);
        }
    }
    None
}

/// When line `i` ends an "On ... wrote:" attribution, the line it starts on
/// (it may be wrapped over up to three lines). The line must end with a
/// colon and name a "wrote" verb; it must also start with an attribution
/// word ("On", "Am", "Le", ...) or, for "Bob <bob@x.com> wrote:", name an
/// address and end with the verb.
fn attribution_start(lines: &[&str], i: usize) -> Option<usize> {
    let line = lines.get(i)?.trim();
    let body = line
        .strip_suffix(':')
        .or_else(|| line.strip_suffix('：'))?
        .trim_end();
    if body.len() > 1000 {
        return None;
    }
    let lower = body.to_lowercase();
    if !WROTE.iter().any(|w| lower.contains(w)) {
        return None;
    }
    // Look back (over wrapped lines, not across blank lines) for the start.
    let first = i.saturating_sub(2);
    for j in (first..=i).rev() {
        let candidate = lines.get(j)?.trim();
        if candidate.is_empty() {
            break;
        }
        let prefix = candidate.chars().take(8).collect::<String>().to_lowercase();
        if ATTRIBUTION_START.iter().any(|p| prefix.starts_with(p)) {
            return Some(j);
        }
    }
    if lower.contains('@') && WROTE.iter().any(|w| lower.ends_with(w)) {
        return Some(i);
    }
    None
}

fn is_original_message(trimmed: &str) -> bool {
    if !(trimmed.starts_with('-') || trimmed.starts_with('_')) || trimmed.len() > 80 {
        return false;
    }
    let inner = trimmed
        .trim_matches(|c: char| c == '-' || c == '_' || c.is_whitespace())
        .to_lowercase();
    ORIGINAL_MESSAGE.contains(&inner.as_str())
}

/// The label of a "Label: value" line, when it is a known header label.
fn header_label(line: &str) -> Option<Label> {
    let trimmed = line.trim_start();
    // Labels are short: look for the colon among the first 40 bytes.
    let head = trimmed.get(..trimmed.len().min(40)).unwrap_or(trimmed);
    let colon = head.find([':', '：'])?;
    let label = trimmed.get(..colon)?.trim().to_lowercase();
    if label.is_empty() {
        return None;
    }
    let label = label.as_str();
    if FROM_LABELS.contains(&label) {
        Some(Label::From)
    } else if DATE_LABELS.contains(&label) {
        Some(Label::Date)
    } else if OTHER_LABELS.contains(&label) {
        Some(Label::Other)
    } else {
        None
    }
}

/// Whether a quoted header block ("From: ... / Sent: ... / To: ...") starts
/// at line `i`: a run of header lines, without blank lines, holding a sender
/// label and a date label. Wrapped values (lines without a label) may sit
/// inside the run.
fn is_header_block(lines: &[&str], i: usize) -> bool {
    let Some(first) = lines.get(i).and_then(|l| header_label(l)) else {
        return false;
    };
    let (mut from, mut date) = (first == Label::From, first == Label::Date);
    let mut labels = 1;
    for line in lines.iter().skip(i + 1).take(8) {
        if line.trim().is_empty() {
            break;
        }
        match header_label(line) {
            Some(Label::From) => from = true,
            Some(Label::Date) => date = true,
            Some(Label::Other) | None => {}
        }
        if header_label(line).is_some() {
            labels += 1;
        }
        if from && date && labels >= 2 {
            return true;
        }
    }
    false
}

/// Before a `>` block: drop the line right above it (blank lines between
/// allowed) when it reads like an attribution: ends with `:` and names an
/// address ("26.06.2014, Alexander L <abc@example.com>:").
fn drop_attribution_above(kept: &mut Vec<&str>) {
    let Some(pos) = kept.iter().rposition(|l| !l.trim().is_empty()) else {
        return;
    };
    let line = kept[pos].trim();
    if (line.ends_with(':') || line.ends_with('：')) && line.contains('@') && line.len() < 300 {
        kept.truncate(pos);
    }
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    !t.is_empty()
        && t.chars().count() >= 3
        && t.chars().all(|c| {
            matches!(c, '-' | '_' | '=' | '*' | '~' | '─' | '━' | '—') || c.is_whitespace()
        })
}

#[cfg(test)]
mod tests {
    use crate::message::BodyFormat;
    use crate::text::visible_text;

    #[test]
    fn on_wrote_cuts_everything_after() {
        let text = "Thanks!\n\nOn Tue, Mar 5, 2024 at 10:00 AM Bob <bob@example.com>\nwrote:\nold line\n> quoted";
        assert_eq!(visible_text(text, BodyFormat::Text), "Thanks!");
        let de = "Danke\nAm 05.03.2024 um 10:00 schrieb Bob <bob@example.com>:\nalt";
        assert_eq!(visible_text(de, BodyFormat::Text), "Danke");
        let fr = "Merci\nLe 5 mars 2024 à 10:00, Bob <bob@example.com> a écrit :\nancien";
        assert_eq!(visible_text(fr, BodyFormat::Text), "Merci");
    }

    #[test]
    fn a_line_ending_in_wrote_without_attribution_shape_is_kept() {
        let text = "Here is what the customer wrote:\nplease help";
        assert_eq!(visible_text(text, BodyFormat::Text), text);
    }

    #[test]
    fn quoted_lines_and_their_attribution_are_removed() {
        let text =
            "Answer one\n\n26.06.2014, Bob <bob@example.com>:\n> question\n> more\n\nAnswer two";
        assert_eq!(
            visible_text(text, BodyFormat::Markdown),
            "Answer one\n\nAnswer two"
        );
    }

    #[test]
    fn outlook_header_block_is_cut() {
        let text = "New\n\n________________________________\nFrom: Bob <bob@example.com>\nSent: Monday, 1 Jan 2024 10:00\nTo: support@example.com\nSubject: help\n\nold";
        assert_eq!(visible_text(text, BodyFormat::Text), "New");
        let german = "Neu\nVon: Bob\nGesendet: Montag\nAn: x\n\nalt";
        assert_eq!(visible_text(german, BodyFormat::Text), "Neu");
    }

    #[test]
    fn a_lone_from_line_is_not_a_header_block() {
        let text = "From: the billing page\nI cannot pay";
        assert_eq!(visible_text(text, BodyFormat::Text), text);
    }

    #[test]
    fn original_message_separator_cuts() {
        let text = "Reply\n-----Original Message-----\nold";
        assert_eq!(visible_text(text, BodyFormat::Text), "Reply");
    }
}
