//! `@handle` mentions in comments: a handle is a member's email address before the `@`,
//! matched in any case; a trailing full stop is not part of it.

use cflows_protocol::UserId;

/// The members (given as id and email) that `body` mentions, each once, in the order
/// given.
pub fn mentioned<'a>(
    body: &str,
    members: impl IntoIterator<Item = (&'a UserId, &'a str)>,
) -> Vec<UserId> {
    if !body.contains('@') {
        return Vec::new();
    }
    let handles: Vec<String> = body
        .split(|c: char| c.is_whitespace() || ",;:!?()".contains(c))
        .filter_map(|w| w.strip_prefix('@'))
        .map(|h| h.trim_end_matches('.').to_lowercase())
        .collect();
    let mut found: Vec<UserId> = Vec::new();
    for (id, email) in members {
        let local = email.split('@').next().unwrap_or("").to_lowercase();
        if handles.contains(&local) && !found.contains(id) {
            found.push(id.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_email_local_parts_in_any_case() {
        let (a, b) = (UserId::new("a"), UserId::new("b"));
        let members = [(&a, "Anna@x.test"), (&b, "bo@x.test")];
        assert_eq!(mentioned("thanks @anna.", members), vec![a.clone()]);
        assert_eq!(
            mentioned("@BO, @anna: ok", members),
            vec![a.clone(), b.clone()]
        );
        assert!(mentioned("mail anna@x.test", members).is_empty());
        assert!(mentioned("nobody", members).is_empty());
    }
}
