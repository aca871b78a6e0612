//! The SurrealQL of `cflows export` and `cflows import`: every record of one
//! organization, table by table, and its journal rows; and writing such a set back in
//! one transaction (all of it or nothing).

use super::{Store, StoreResult};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// How the records of a table belong to an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owned {
    /// The organization's own row.
    Itself,
    /// Rows with an `org` field.
    ByOrg,
    /// Users who are members of it.
    Members,
    /// Rows whose `field` names a row of `table` of the organization.
    Via(&'static str, &'static str),
}

/// Fields stored as datetimes (JSON strings in a document; cast back on import).
fn datetime_field(table: &str) -> Option<&'static str> {
    match table {
        "org" | "user" | "membership" | "team" => Some("created_at"),
        "event" => Some("at"),
        _ => None,
    }
}

impl Store {
    /// Every row of `table` that belongs to `org` (ids as plain strings, datetimes as
    /// RFC 3339), by id. `ids` holds the ids of tables already read.
    ///
    /// # Errors
    /// The query fails.
    pub async fn export_table(
        &self,
        table: &'static str,
        owned: Owned,
        org: &str,
        ids: &BTreeMap<&'static str, Vec<String>>,
    ) -> StoreResult<Vec<Json>> {
        let (filter, list): (String, Json) = match owned {
            Owned::Itself => ("record::id(id) = $org".into(), Json::Null),
            Owned::ByOrg => ("org = $org".into(), Json::Null),
            Owned::Members => (
                "record::id(id) IN $ids".into(),
                json!(self.member_ids(org).await?),
            ),
            Owned::Via(field, parent) => (
                format!("{field} IN $ids"),
                json!(ids.get(parent).cloned().unwrap_or_default()),
            ),
        };
        self.rows(
            &format!(
                "SELECT *, record::id(id) AS id FROM type::table($t) WHERE {filter} ORDER BY id"
            ),
            json!({ "t": table, "org": org, "ids": list }),
        )
        .await
    }

    async fn member_ids(&self, org: &str) -> StoreResult<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            user: String,
        }
        let rows: Vec<Row> = self
            .rows(
                "SELECT user FROM membership WHERE org = $org",
                json!({ "org": org }),
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.user).collect())
    }

    /// The journal rows of `org` (and rows of its streams written before journal rows
    /// carried their organization), stream by stream in order. Inbox and platform
    /// streams are people's and the platform's, not the organization's.
    ///
    /// # Errors
    /// The query fails.
    pub async fn export_journal(&self, org: &str, streams: &[String]) -> StoreResult<Vec<Json>> {
        self.rows(
            "SELECT stream, seq, kind, payload, actor, org, at FROM event \
             WHERE (org = $org OR ((org = NONE OR org = NULL) AND stream IN $streams)) \
             AND !string::starts_with(stream, 'inbox:') AND stream != 'platform' \
             ORDER BY stream, seq",
            json!({ "org": org, "streams": streams }),
        )
        .await
    }

    /// Whether an organization with this id or slug exists.
    ///
    /// # Errors
    /// The query fails.
    pub async fn org_exists(&self, id: &str, slug: &str) -> StoreResult<bool> {
        let rows: Vec<Json> = self
            .rows(
                "SELECT record::id(id) AS id FROM org WHERE record::id(id) = $id OR slug = $slug LIMIT 1",
                json!({ "id": id, "slug": slug }),
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// The id of the user with `email`, if any.
    ///
    /// # Errors
    /// The query fails.
    pub async fn user_id_by_email(&self, email: &str) -> StoreResult<Option<String>> {
        #[derive(serde::Deserialize)]
        struct Row {
            id: String,
        }
        let row: Option<Row> = self
            .row(
                "SELECT record::id(id) AS id FROM user WHERE email = $email LIMIT 1",
                json!({ "email": email }),
            )
            .await?;
        Ok(row.map(|r| r.id))
    }

    /// Writes `tables` (rows with a string `id`) and `journal` in one transaction, with
    /// each stream's head. Users that exist already (same id) are kept as they are.
    ///
    /// # Errors
    /// Any row is refused (a type, an assertion, a unique index, an existing id): then
    /// nothing was written.
    pub async fn import_rows(
        &self,
        tables: &BTreeMap<String, Vec<Json>>,
        journal: &[Json],
    ) -> StoreResult<()> {
        let mut sql = String::from("BEGIN TRANSACTION;\n");
        let mut vars = Map::new();
        for (i, (table, _)) in super::tables::exported().enumerate() {
            let Some(rows) = tables.get(table) else {
                continue;
            };
            let mut split = Vec::with_capacity(rows.len());
            for row in rows {
                let mut data = row.as_object().cloned().unwrap_or_default();
                let id = data.remove("id").unwrap_or(Json::Null);
                split.push(json!({ "id": id, "data": data }));
            }
            let content = match datetime_field(table) {
                Some(f) => format!("object::extend($r.data, {{ {f}: <datetime> $r.data.{f} }})"),
                None => "$r.data".to_string(),
            };
            let create = format!("CREATE type::record('{table}', $r.id) CONTENT {content};");
            if table == "user" {
                sql.push_str(&format!(
                    "FOR $r IN $rows{i} {{ IF !record::exists(type::record('user', $r.id)) {{ {create} }}; }};\n"
                ));
            } else {
                sql.push_str(&format!("FOR $r IN $rows{i} {{ {create} }};\n"));
            }
            vars.insert(format!("rows{i}"), Json::Array(split));
        }
        sql.push_str(
            "FOR $r IN $journal { CREATE event CONTENT object::extend($r, { at: <datetime> $r.at }); };\n",
        );
        vars.insert("journal".into(), Json::Array(journal.to_vec()));
        let mut heads: BTreeMap<String, u64> = BTreeMap::new();
        for row in journal {
            if let (Some(s), Some(q)) = (row["stream"].as_str(), row["seq"].as_u64()) {
                let h = heads.entry(s.to_string()).or_default();
                *h = (*h).max(q);
            }
        }
        let heads: Vec<Json> = heads
            .into_iter()
            .map(|(stream, seq)| json!({ "stream": stream, "seq": seq }))
            .collect();
        sql.push_str(
            "FOR $h IN $heads { UPSERT type::record('stream_head', $h.stream) SET seq = $h.seq; };\n",
        );
        vars.insert("heads".into(), Json::Array(heads));
        sql.push_str("COMMIT TRANSACTION;");
        self.run(&sql, Json::Object(vars)).await.map(|_| ())
    }
}
