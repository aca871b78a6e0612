//! The integrity check behind `cflows check`: references between rows point at rows
//! that exist, and every journal stream is gap-free.

use crate::store::{Store, StoreResult};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Finds every broken reference; an empty list means the store is consistent.
///
/// # Errors
/// The store cannot be read.
pub async fn integrity(store: &Store) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    let orgs: HashSet<String> = store.orgs().await?.into_iter().map(|o| o.id).collect();
    let users: HashSet<String> = store.all_users().await?.into_iter().map(|u| u.id).collect();
    let memberships = store.all_memberships().await?;
    let mut members_of: HashMap<&str, HashSet<&str>> = HashMap::new();
    for m in &memberships {
        if !orgs.contains(&m.org) {
            problems.push(format!(
                "membership of user {} points to missing organization {}",
                m.user, m.org
            ));
        }
        if !users.contains(&m.user) {
            problems.push(format!(
                "membership in organization {} points to missing user {}",
                m.org, m.user
            ));
        }
        members_of
            .entry(m.org.as_str())
            .or_default()
            .insert(m.user.as_str());
    }
    let teams = store.all_teams().await?;
    let team_org: HashMap<&str, &str> = teams
        .iter()
        .map(|t| (t.id.as_str(), t.org.as_str()))
        .collect();
    for t in &teams {
        let who = format!("team {} ({})", t.name, t.id);
        if !orgs.contains(&t.org) {
            problems.push(format!("{who} points to missing organization {}", t.org));
        }
        let org_members = members_of.get(t.org.as_str());
        for u in t.members.iter().chain(t.manager.iter()) {
            if !org_members.is_some_and(|s| s.contains(u.as_str())) {
                problems.push(format!(
                    "{who} lists {u}, who is not a member of its organization"
                ));
            }
        }
        if let Some(p) = &t.parent
            && team_org.get(p.as_str()) != Some(&t.org.as_str())
        {
            problems.push(format!(
                "{who} has parent {p}, which is not a team of the same organization"
            ));
        }
        if t.bookable_count as usize > t.members.len() {
            problems.push(format!(
                "{who} can book {} but has {} members",
                t.bookable_count,
                t.members.len()
            ));
        }
    }
    let mut streams: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (stream, seq) in store.journal_positions().await? {
        streams.entry(stream).or_default().push(seq);
    }
    for (stream, mut seqs) in streams {
        seqs.sort_unstable();
        if let Some((i, s)) = seqs.iter().enumerate().find(|(i, s)| **s != *i as u64 + 1) {
            problems.push(format!(
                "journal stream {stream} has a gap or duplicate at position {} (found {s})",
                i + 1
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreConfig;
    use serde_json::json;

    #[tokio::test]
    async fn finds_dangling_references_and_gaps() {
        let store = Store::open(&StoreConfig::memory()).await.unwrap();
        store.migrate().await.unwrap();
        assert!(integrity(&store).await.unwrap().is_empty());
        store
            .commit(
                "CREATE membership CONTENT { org: 'ghost-org', user: 'ghost-user', role: 'member', active: true, title: '', location: '', timezone: '', avatar: '', bio: '', created_at: time::now() };",
                json!({}),
                &[crate::store::JournalRow { stream: "org:x".into(), seq: 2, kind: "test", payload: "{}".into(), actor: None }],
            )
            .await
            .unwrap();
        let problems = integrity(&store).await.unwrap();
        assert_eq!(problems.len(), 3, "{problems:#?}");
    }
}
