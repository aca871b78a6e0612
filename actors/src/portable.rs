//! Backup and portability: one organization — every record, its journal and its
//! attachment bytes — as one versioned JSON document (`cflows export`), and restoring
//! such a document (`cflows import`) into a database that does not hold the
//! organization, either as it was (same ids) or as a new organization (new ids, a new
//! slug). A document that cannot be applied in full is refused and nothing is written:
//! its digest must match, every record must belong to it, and all rows go in one
//! transaction.

use crate::error::{CoreError, CoreResult};
use crate::files::Files;
use crate::store::{MIGRATIONS, Owned, Store, exported, new_id};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The `format` of every export document.
pub const FORMAT: &str = "cflows-export";
/// The document version this build writes and reads.
pub const VERSION: u32 = 1;

/// An exported organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportDoc {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The last database migration of the exporting server.
    pub schema: String,
    /// RFC 3339.
    pub exported_at: String,
    /// The organization's id.
    pub org: String,
    /// The organization's slug.
    pub slug: String,
    /// Table → rows (each with its id as a string), for every exported table of
    /// [`crate::store::TABLES`].
    pub tables: BTreeMap<String, Vec<Json>>,
    /// Journal rows: `stream`, `seq`, `kind`, `payload`, `actor`, `org`, `at`.
    pub journal: Vec<Json>,
    /// Attachment bytes by SHA-256, base64.
    pub files: BTreeMap<String, String>,
    /// Hex SHA-256 of this document serialized with `sha256` empty.
    pub sha256: String,
}

impl ExportDoc {
    fn digest(&self) -> String {
        let mut copy = self.clone();
        copy.sha256 = String::new();
        hex::encode(Sha256::digest(
            serde_json::to_vec(&copy).expect("documents serialize"),
        ))
    }
}

/// How a document is imported.
#[derive(Clone, Debug, Default)]
pub enum ImportAs {
    /// The organization as it was: same ids and slug (restoring a backup).
    #[default]
    Same,
    /// A new organization: every id new, this slug (and name, when given). Secrets
    /// (kiosk, feed and invitation tokens) and notifications are not carried over.
    New { slug: String, name: Option<String> },
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub org: String,
    pub slug: String,
    pub records: usize,
    pub journal_rows: usize,
    pub files: usize,
}

fn invalid(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidInput(msg.into())
}

/// Exports the organization with this slug (or id).
///
/// # Errors
/// `NotFound` for an unknown organization; store or disk failures.
pub async fn export(store: &Store, files: &Files, org: &str) -> CoreResult<ExportDoc> {
    let record = match store.org_by_slug(org).await? {
        Some(r) => r,
        None => store.org(org).await?.ok_or(CoreError::NotFound)?,
    };
    let mut ids: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut tables = BTreeMap::new();
    for (table, owned) in exported() {
        let rows = store.export_table(table, owned, &record.id, &ids).await?;
        ids.insert(
            table,
            rows.iter()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect(),
        );
        tables.insert(table.to_string(), rows);
    }
    // Streams of the organization whose oldest rows may not carry it.
    let mut streams = vec![format!("org:{}", record.id)];
    for (table, kind) in [("team", "team"), ("calendar", "calendar")] {
        for id in &ids[table] {
            streams.push(format!("{kind}:{id}"));
        }
    }
    let journal = store.export_journal(&record.id, &streams).await?;
    let mut bytes = BTreeMap::new();
    for a in &tables["attachment"] {
        if let Some(sha) = a["sha256"].as_str()
            && !bytes.contains_key(sha)
        {
            let data = files.read(sha, false).await?;
            bytes.insert(
                sha.to_string(),
                base64::engine::general_purpose::STANDARD.encode(data),
            );
        }
    }
    let mut doc = ExportDoc {
        format: FORMAT.into(),
        version: VERSION,
        schema: MIGRATIONS
            .last()
            .map(|m| m.name.to_string())
            .unwrap_or_default(),
        exported_at: chrono::Utc::now().to_rfc3339(),
        org: record.id,
        slug: record.slug,
        tables,
        journal,
        files: bytes,
        sha256: String::new(),
    };
    doc.sha256 = doc.digest();
    Ok(doc)
}

/// Reads a document and checks it is whole, untouched and of a version this build
/// knows.
///
/// # Errors
/// `InvalidInput` saying what is wrong.
pub fn parse(text: &str) -> CoreResult<ExportDoc> {
    let doc: ExportDoc = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "not a whole cflows export document (truncated or damaged): {e}"
        ))
    })?;
    if doc.format != FORMAT {
        return Err(invalid(format!("not a {FORMAT} document")));
    }
    if doc.version != VERSION {
        return Err(invalid(format!(
            "document version {} is not {VERSION}, the version this cflows reads",
            doc.version
        )));
    }
    if !MIGRATIONS.iter().any(|m| m.name == doc.schema) {
        return Err(invalid(format!(
            "the document comes from a database at {}, which this cflows does not know (a newer version?)",
            doc.schema
        )));
    }
    if doc.digest() != doc.sha256 {
        return Err(invalid(
            "the document's digest does not match its content: it was changed or damaged",
        ));
    }
    check_consistent(&doc)?;
    Ok(doc)
}

/// Every table is known, every row has an id and belongs to the organization.
fn check_consistent(doc: &ExportDoc) -> CoreResult<()> {
    for (table, rows) in &doc.tables {
        let owned = exported()
            .find(|(t, _)| t == table)
            .map(|(_, o)| o)
            .ok_or_else(|| invalid(format!("unknown table \"{table}\"")))?;
        for row in rows {
            let id = row["id"]
                .as_str()
                .ok_or_else(|| invalid(format!("a row of {table} has no id")))?;
            let ok = match owned {
                Owned::Itself => id == doc.org,
                Owned::ByOrg => row["org"].as_str() == Some(doc.org.as_str()),
                Owned::Members | Owned::Via(..) => true,
            };
            if !ok {
                return Err(invalid(format!(
                    "{table}:{id} belongs to another organization"
                )));
            }
        }
    }
    if doc.tables.get("org").is_none_or(|r| r.len() != 1) {
        return Err(invalid("the document holds no organization row"));
    }
    for row in &doc.journal {
        let org = row["org"].as_str();
        if org.is_some_and(|o| o != doc.org) || row["stream"].as_str().is_none() {
            return Err(invalid("a journal row belongs to another organization"));
        }
    }
    for (sha, data) in &doc.files {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid(format!("file {sha} is not base64")))?;
        if hex::encode(Sha256::digest(&bytes)) != *sha {
            return Err(invalid(format!("file {sha} does not match its hash")));
        }
    }
    Ok(())
}

/// Replaces every id of `map` wherever it appears in `value`: ids are long runs of
/// lowercase letters and digits, alone or inside names like `item:{id}`,
/// `{workflow}-{version}` and journal payloads.
fn remap(value: &mut Json, map: &HashMap<String, String>) {
    match value {
        Json::String(s) => *s = remap_str(s, map),
        Json::Array(a) => a.iter_mut().for_each(|v| remap(v, map)),
        Json::Object(o) => o.values_mut().for_each(|v| remap(v, map)),
        _ => {}
    }
}

fn remap_str(s: &str, map: &HashMap<String, String>) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase();
        if hex(bytes[i]) {
            let start = i;
            while i < bytes.len() && hex(bytes[i]) {
                i += 1;
            }
            let run = &s[start..i];
            out.push_str(map.get(run).map_or(run, String::as_str));
        } else {
            let c = s[i..].chars().next().expect("in bounds");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Imports a document read by [`parse`].
///
/// # Errors
/// `Conflict` when the organization (id or slug) exists already; `InvalidInput` when a
/// row is refused by the database (nothing is written then); store or disk failures.
pub async fn import(
    store: &Store,
    files: &Files,
    mut doc: ExportDoc,
    mode: ImportAs,
) -> CoreResult<Imported> {
    if !store.migrations_current().await? {
        return Err(invalid("migrate the database first (`cflows migrate`)"));
    }
    if let ImportAs::New { slug, name } = &mode {
        let mut map: HashMap<String, String> = HashMap::new();
        for (table, rows) in &doc.tables {
            if table == "user" {
                continue;
            }
            for row in rows {
                // One new id per old one: a board shares its workflow's id.
                if let Some(id) = row["id"].as_str() {
                    map.entry(id.to_string()).or_insert_with(new_id);
                }
            }
        }
        // People who have an account here already keep it.
        for row in doc.tables.get("user").into_iter().flatten() {
            if let (Some(id), Some(email)) = (row["id"].as_str(), row["email"].as_str())
                && let Some(existing) = store.user_id_by_email(email).await?
            {
                map.insert(id.to_string(), existing);
            }
        }
        for gone in ["kiosk", "feed", "invitation", "notification"] {
            doc.tables.remove(gone);
        }
        for rows in doc.tables.values_mut() {
            rows.iter_mut().for_each(|r| remap(r, &map));
        }
        doc.journal.iter_mut().for_each(|r| remap(r, &map));
        doc.org = map.get(&doc.org).cloned().unwrap_or(doc.org);
        doc.slug.clone_from(slug);
        if let Some(org) = doc.tables.get_mut("org").and_then(|r| r.first_mut()) {
            org["slug"] = Json::String(slug.clone());
            if let Some(n) = name {
                org["name"] = Json::String(n.clone());
            }
        }
    }
    if store.org_exists(&doc.org, &doc.slug).await? {
        return Err(CoreError::Conflict(format!(
            "an organization with this id or the slug \"{}\" exists already; import it as a new organization with another slug",
            doc.slug
        )));
    }
    // Bytes first (by hash: a second copy is harmless); the ones this import added are
    // removed again if the rows are refused.
    let mut added = Vec::new();
    for (sha, data) in &doc.files {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid(format!("file {sha} is not base64")))?;
        if !files.exists(sha).await {
            files.put_exact(sha, &bytes).await?;
            added.push(sha.clone());
        }
    }
    let records = doc.tables.values().map(Vec::len).sum();
    if let Err(e) = store.import_rows(&doc.tables, &doc.journal).await {
        for sha in &added {
            files.remove_unchecked(sha).await;
        }
        return Err(invalid(format!(
            "the database refused the document, nothing was imported: {e}"
        )));
    }
    Ok(Imported {
        org: doc.org,
        slug: doc.slug,
        records,
        journal_rows: doc.journal.len(),
        files: doc.files.len(),
    })
}

#[cfg(test)]
mod tests;
