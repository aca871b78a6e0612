//! Input rules shared by every way in (staff panel, JSON API, CLI, protocol).
//!
//! Each function returns the cleaned value (trimmed, normalised) or a sentence for the
//! person who typed it.

use super::{Checked, Invalid};

/// Longest display name, team name or organization name, in characters.
pub const MAX_NAME: usize = 120;
/// Longest free text (descriptions, bios).
pub const MAX_TEXT: usize = 2_000;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL: usize = 254;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (Argon2 input is bounded to keep hashing cheap to refuse).
pub const MAX_PASSWORD: usize = 256;
/// Largest avatar image, as a data URL.
pub const MAX_AVATAR_BYTES: usize = 256 * 1024;
/// Largest bookable member count of a team.
pub const MAX_BOOKABLE: u32 = *cflows_protocol::limits::BOOKABLE_COUNT.end();

/// A required single-line name: trimmed, 1..=`MAX_NAME` characters, no control characters.
///
/// # Errors
/// Empty, too long, or containing control characters.
pub fn name(field: &str, raw: &str) -> Checked<String> {
    let v = raw.trim();
    if v.is_empty() {
        return Err(Invalid::new(format!("{field} must not be empty")));
    }
    if v.chars().count() > MAX_NAME {
        return Err(Invalid::new(format!(
            "{field} must be at most {MAX_NAME} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(Invalid::new(format!(
            "{field} must be a single line of text"
        )));
    }
    if v.chars().any(is_bidi_control) {
        return Err(Invalid::new(format!(
            "{field} must not contain text-direction overrides"
        )));
    }
    if v.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(Invalid::new(format!("{field} must not be empty")));
    }
    Ok(v.to_string())
}

/// Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069):
/// they make a name display as something else than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that render as nothing: Unicode's Default_Ignorable_Code_Point set
/// (zero-width space and joiners, word joiner, BOM, soft hyphen, variation selectors,
/// Hangul fillers, tags). A name made only of these looks empty.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
        | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{1BCA0}'..='\u{1BCA3}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// Optional single-line text (title, location): trimmed, at most `MAX_NAME` characters.
///
/// # Errors
/// Too long or containing control characters.
pub fn short_text(field: &str, raw: &str) -> Checked<String> {
    if raw.trim().is_empty() {
        return Ok(String::new());
    }
    name(field, raw)
}

/// Optional multi-line text (description, bio): trimmed, at most `MAX_TEXT` characters.
///
/// # Errors
/// Too long.
pub fn long_text(field: &str, raw: &str) -> Checked<String> {
    let v = raw.trim();
    if v.chars().count() > MAX_TEXT {
        return Err(Invalid::new(format!(
            "{field} must be at most {MAX_TEXT} characters"
        )));
    }
    Ok(v.to_string())
}

/// An email address, lower-cased. Deliberately simple: one `@`, a dot in the domain, no
/// spaces; the real check is the mail that reaches the person.
///
/// # Errors
/// Not shaped like an address or too long.
pub fn email(raw: &str) -> Checked<String> {
    let v = raw.trim().to_lowercase();
    let bad = || Invalid::new(format!("'{}' is not a valid email address", raw.trim()));
    if v.len() > MAX_EMAIL {
        return Err(Invalid::new(format!(
            "email must be at most {MAX_EMAIL} characters"
        )));
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    if ok { Ok(v) } else { Err(bad()) }
}

/// A password to set.
///
/// # Errors
/// Shorter than `MIN_PASSWORD` or longer than `MAX_PASSWORD` characters.
pub fn new_password(raw: &str) -> Checked<String> {
    let n = raw.chars().count();
    if n < MIN_PASSWORD {
        return Err(Invalid::new(format!(
            "password must be at least {MIN_PASSWORD} characters"
        )));
    }
    if n > MAX_PASSWORD {
        return Err(Invalid::new(format!(
            "password must be at most {MAX_PASSWORD} characters"
        )));
    }
    Ok(raw.to_string())
}

/// An IANA time zone name known to chrono-tz (e.g. `Europe/Berlin`).
///
/// # Errors
/// Unknown zone.
pub fn timezone(raw: &str) -> Checked<String> {
    let v = raw.trim();
    v.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_string())
        .map_err(|_| {
            Invalid::new(format!(
                "'{v}' is not a known IANA time zone (e.g. Europe/Berlin)"
            ))
        })
}

/// An optional time zone: empty means "use the organization's".
///
/// # Errors
/// Unknown zone.
pub fn optional_timezone(raw: &str) -> Checked<String> {
    if raw.trim().is_empty() {
        Ok(String::new())
    } else {
        timezone(raw)
    }
}

/// A URL slug: lower-case letters, digits and single dashes, 2..=60 characters.
///
/// # Errors
/// Any other shape.
pub fn slug(raw: &str) -> Checked<String> {
    let v = raw.trim().to_lowercase();
    let ok = (2..=60).contains(&v.len())
        && v.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(v)
    } else {
        Err(Invalid::new(
            "slug must be 2-60 lower-case letters, digits and single dashes (e.g. demo-motors)",
        ))
    }
}

/// A slug made from a name ("Demo Motors" → "demo-motors").
pub fn slug_from(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let bounded: String = out.chars().take(60).collect();
    bounded.trim_end_matches('-').to_string()
}

/// A colour as `#rrggbb`, lower-cased; empty gives the default slate grey.
///
/// # Errors
/// Any other shape.
pub fn colour(raw: &str) -> Checked<String> {
    let v = raw.trim().to_lowercase();
    if v.is_empty() {
        return Ok("#64748b".into());
    }
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(v)
    } else {
        Err(Invalid::new("colour must look like #1e90ff"))
    }
}

/// A team's bookable member count.
///
/// # Errors
/// More than `MAX_BOOKABLE`, or more than the team has members.
pub fn bookable_count(count: u32, members: usize) -> Checked<u32> {
    if count > MAX_BOOKABLE {
        return Err(Invalid::new(format!(
            "bookable count must be at most {MAX_BOOKABLE}"
        )));
    }
    if count as usize > members {
        return Err(Invalid::new(format!(
            "bookable count ({count}) cannot exceed the team's {members} member(s)"
        )));
    }
    Ok(count)
}

/// Longest reminder lead: a week.
pub const MAX_REMINDER_HOURS: u32 = 168;

/// A team's reminder lead: none, or 1 to [`MAX_REMINDER_HOURS`] hours.
///
/// # Errors
/// Zero or more than a week.
pub fn reminder_hours(hours: Option<u32>) -> Checked<Option<u32>> {
    match hours {
        Some(h) if h == 0 || h > MAX_REMINDER_HOURS => Err(Invalid::new(format!(
            "a reminder comes 1 to {MAX_REMINDER_HOURS} hours before a booking (leave it empty for none)"
        ))),
        h => Ok(h),
    }
}

/// An avatar: empty, or a `data:image/(png|jpeg|webp|gif);base64,` URL under the size limit.
///
/// # Errors
/// Another kind of URL, or too large.
pub fn avatar(raw: &str) -> Checked<String> {
    let v = raw.trim();
    if v.is_empty() {
        return Ok(String::new());
    }
    if v.len() > MAX_AVATAR_BYTES {
        return Err(Invalid::new(format!(
            "avatar must be at most {} KiB",
            MAX_AVATAR_BYTES / 1024
        )));
    }
    let ok = ["png", "jpeg", "webp", "gif"]
        .iter()
        .any(|kind| v.starts_with(&format!("data:image/{kind};base64,")))
        && v.split_once(',').is_some_and(|(_, b64)| {
            b64.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        });
    if ok {
        Ok(v.to_string())
    } else {
        Err(Invalid::new(
            "avatar must be a PNG, JPEG, WebP or GIF image as a base64 data URL",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timezones() {
        assert_eq!(timezone(" Europe/Berlin ").unwrap(), "Europe/Berlin");
        assert!(timezone("Mars/Olympus").is_err());
        assert_eq!(optional_timezone("").unwrap(), "");
    }

    #[test]
    fn emails() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in [
            "", "ann", "ann@", "@x.com", "a@b", "a b@c.de", "a@b..c", "a@@b.c",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_text() {
        assert!(name("Name", "   ").is_err());
        assert!(name("Name", &"x".repeat(MAX_NAME + 1)).is_err());
        assert!(name("Name", "a\nb").is_err());
        assert_eq!(name("Name", "  Sales ").unwrap(), "Sales");
        assert!(long_text("Bio", &"x".repeat(MAX_TEXT + 1)).is_err());
    }

    #[test]
    fn slugs_and_colours() {
        assert_eq!(slug_from("Demo Motors GmbH & Co."), "demo-motors-gmbh-co");
        assert!(slug("demo-motors").is_ok());
        assert!(slug("Demo--x").is_err());
        assert_eq!(colour("#1E90FF").unwrap(), "#1e90ff");
        assert!(colour("blue").is_err());
    }

    #[test]
    fn bookable_cannot_exceed_members() {
        assert!(bookable_count(3, 2).is_err());
        assert_eq!(bookable_count(2, 2).unwrap(), 2);
    }

    #[test]
    fn avatars() {
        assert!(avatar("data:image/png;base64,iVBORw0KGgo=").is_ok());
        assert!(avatar("https://evil.example/x.png").is_err());
        assert!(avatar("data:image/svg+xml;base64,PHN2Zz4=").is_err());
    }

    proptest! {
        #[test]
        fn slug_from_is_a_valid_slug_or_too_short(s in ".{0,80}") {
            let made = slug_from(&s);
            prop_assert!(made.len() < 2 || slug(&made).is_ok(), "{made}");
        }

        #[test]
        fn name_output_is_trimmed_and_bounded(s in ".{0,200}") {
            if let Ok(n) = name("x", &s) {
                prop_assert_eq!(n.trim(), n.as_str());
                prop_assert!(!n.is_empty() && n.chars().count() <= MAX_NAME);
            }
        }
    }

    #[test]
    fn invisible_and_direction_tricks_are_refused_like_empty_names() {
        for raw in [
            "\u{200B}",
            "\u{FEFF}\u{200B}\u{2060}",
            " \u{200C}\u{200D} ",
            "\u{00AD}",
            "\u{3164}",
        ] {
            let err = name("Team name", raw).unwrap_err().to_string();
            assert!(err.contains("must not be empty"), "{raw:?}: {err}");
        }
        for raw in ["Sales\u{202E}txt.exe", "\u{2066}Admin\u{2069}"] {
            let err = name("Display name", raw).unwrap_err().to_string();
            assert!(err.contains("direction"), "{raw:?}: {err}");
        }
        // Visible text with a joiner inside (emoji sequences, Persian) is fine.
        assert!(name("Team name", "Mechanics \u{1F469}\u{200D}\u{1F527}").is_ok());
        assert!(
            name(
                "Team name",
                "\u{0645}\u{06CC}\u{200C}\u{0634}\u{0648}\u{062F}"
            )
            .is_ok()
        );
    }
}
