//! Text a provider's API chose (event ids and types, error messages, links) on its way to a
//! terminal: control characters could move the cursor, rewrite earlier lines or retitle the
//! window, so each is written as a visible escape instead.

/// `text` with every control character (C0, DEL, C1) and every bidirectional override written as
/// `\u{..}`; a backslash is doubled, so an escape the provider wrote cannot pass for one of ours.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            c if c.is_control() || is_bidi_control(c) => {
                escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => escaped.push(c),
        }
    }
    escaped
}

/// The bidirectional formatting characters, which reorder what a terminal shows.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(escape("evt_1"), "evt_1");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("line\r\nnext\u{7}"), "line\\u{d}\\u{a}next\\u{7}");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("a\\u{1b}"), "a\\\\u{1b}");
        assert_eq!(escape("é ü 漢"), "é ü 漢");
    }
}
