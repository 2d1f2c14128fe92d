//! What a display name may not hide (protocol.md §2): characters that print
//! nothing or reorder the text around them, and letters of one script posing
//! as another's (a Cyrillic `а` among Latin letters reads as `a`). The
//! character data is Unicode's own (UTS #39 identifier types and scripts,
//! general categories), through maintained crates, not a list of ours.

use unicode_properties::{GeneralCategory, UnicodeEmoji, UnicodeGeneralCategory};
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::{GeneralSecurityProfile, MixedScript, RestrictionLevel, RestrictionLevelDetection};

/// Most combining marks stacked on one character: enough for any script's
/// diacritics, too few to spill a name over the lines around it.
const MAX_STACKED_MARKS: usize = 3;

/// What is wrong with a name's characters, if anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// A control, format, bidi, separator (other than a plain space),
    /// private-use, unassigned or default-ignorable character, or marks piled
    /// on one character.
    Invisible,
    /// Letters of scripts that are mixed the way spoofers mix them.
    MixedScripts,
}

/// Checks a trimmed, non-empty name.
pub(crate) fn check(name: &str) -> Option<Problem> {
    let chars: Vec<char> = name.chars().collect();
    let mut marks = 0;
    for (i, &c) in chars.iter().enumerate() {
        let after_emoji = i > 0 && chars[i - 1].is_emoji_char();
        let before_emoji = chars.get(i + 1).is_some_and(|n| n.is_emoji_char());
        // The joiner and the presentation selectors are how emoji are
        // written (👩‍💻, ❤️): allowed there, and only there.
        let emoji_glue = match c {
            '\u{200D}' => after_emoji && before_emoji,
            '\u{FE0E}' | '\u{FE0F}' => after_emoji,
            _ => false,
        };
        if emoji_glue {
            continue;
        }
        if !visible(c) {
            return Some(Problem::Invisible);
        }
        marks = if c.general_category() == GeneralCategory::NonspacingMark { marks + 1 } else { 0 };
        if marks > MAX_STACKED_MARKS {
            return Some(Problem::Invisible);
        }
    }
    let letters: String = chars.iter().filter(|c| c.is_alphabetic()).collect();
    // One script, or Latin with Han/Kana/Hangul or with one other script
    // that has no Latin look-alikes (UTS #39 "moderately restrictive"):
    // `Zoë 李`, `Ali علي` pass; Cyrillic or Greek letters among Latin ones do not.
    if !letters.as_str().is_single_script()
        && !letters.as_str().check_restriction_level(RestrictionLevel::ModeratelyRestrictive)
    {
        return Some(Problem::MixedScripts);
    }
    None
}

fn visible(c: char) -> bool {
    use GeneralCategory::*;
    match c.general_category() {
        Control | Format | Surrogate | PrivateUse | Unassigned | LineSeparator | ParagraphSeparator => false,
        SpaceSeparator => c == ' ',
        // Hangul fillers (U+3164, U+115F) are letters that draw nothing.
        _ => !matches!(c.identifier_type(), Some(IdentifierType::Default_Ignorable | IdentifierType::Not_Character)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_people_have_pass() {
        for name in [
            "Ada",
            "Ada Lovelace (admin)",
            "José Ñúñez",
            "Zoë 李",
            "田中 太郎",
            "Мария",
            "Ελένη",
            "Ali علي",
            "שלום",
            "Ada 🚀",
            "dev 👩‍💻",
            "I ❤️ Rust",
            "🇫🇷 Marie",
            "O'Brien-Smith #2",
            "Nguyễn Văn A",
        ] {
            assert_eq!(check(name), None, "{name:?}");
        }
    }

    #[test]
    fn invisible_and_reordering_characters_are_refused() {
        for name in [
            "Ada\u{061C}", // Arabic letter mark
            "\u{3164}",    // Hangul filler
            "Ada\u{3164}",
            "\u{115F}Ada",           // Hangul choseong filler
            "Ada\u{E0041}\u{E0042}", // tag characters
            "Ada\u{2028}Bob",        // line separator
            "Ada\u{2029}",           // paragraph separator
            "Ada\u{202E}nimda",      // right-to-left override
            "A\u{200B}da",           // zero-width space
            "A\u{200D}da",           // a joiner not between emoji
            "Ada\u{00A0}L",          // no-break space
            "Ada\u{3000}L",          // ideographic space
            "Ada\u{E000}",           // private use
            "Ada\u{00AD}",           // soft hyphen
            "Z\u{0336}\u{0336}\u{0336}\u{0336}algo",
        ] {
            assert_eq!(check(name), Some(Problem::Invisible), "{name:?}");
        }
    }

    #[test]
    fn look_alike_letters_of_another_script_are_refused() {
        for name in [
            "\u{0410}da", // Cyrillic А + Latin da
            "Ad\u{0430}", // Latin Ad + Cyrillic а
            "p\u{0430}ypal",
            "\u{0391}da", // Greek Alpha
            "Ada (\u{0430}dmin)",
        ] {
            assert_eq!(check(name), Some(Problem::MixedScripts), "{name:?}");
        }
    }
}
