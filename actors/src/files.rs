//! Attachment bytes on disk: `{dir}/{aa}/{sha256}` (and `{sha256}.thumb.jpg`), named by
//! content hash, never by anything a user typed. Identical uploads share one file; a
//! file is removed only when no attachment row (of any organization) names it any more
//! and no upload of the same bytes is between writing it and committing its row — on
//! any node: an upload holds a lease on the hash in the store (`blob`) from before it
//! writes until its row is committed, and a removal claims the hash first; both write
//! the hash's one record, so two nodes never do both at once.
//!
//! The rows are the owners' actors' to write; this module only keeps bytes.

use crate::domain::upload::{self, Inspected, Refusal};
use crate::error::{CoreError, CoreResult};
use crate::kernel::Kernel;
use crate::store::{Store, new_id};
use cflows_protocol::{AttachmentView, UserId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an upload's lease on its bytes lasts at most (a node that dies holding one
/// keeps the bytes that long).
const LEASE_MS: i64 = 10 * 60_000;

/// The attachment byte store.
#[derive(Clone)]
pub struct Files(Arc<Inner>);

struct Inner {
    dir: PathBuf,
    max_bytes: u64,
    /// Uploads written but not yet committed, by hash.
    pending: Mutex<HashMap<String, u32>>,
    /// Orders writing bytes against removing the same bytes (held across disk and
    /// store I/O, hence async).
    order: tokio::sync::Mutex<()>,
    /// One permit per image decode that may run at once (a decode at the size limit
    /// takes seconds and hundreds of MB).
    decodes: Arc<tokio::sync::Semaphore>,
    /// How long an upload waits for a permit before it is refused as busy.
    decode_wait: Duration,
}

/// How many image decodes run at once, and how long an upload queues for one.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimit {
    /// Decodes at once (at least 1).
    pub at_once: usize,
    /// Longest wait in the queue; then the upload answers `Unavailable` (503).
    pub wait: Duration,
}

impl Default for DecodeLimit {
    /// One decode per core; a queue of up to 20 seconds.
    fn default() -> Self {
        Self {
            at_once: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            wait: Duration::from_secs(20),
        }
    }
}

/// Bytes kept for an upload whose attachment row is not committed yet. Dropping it
/// (after the commit, or after a failed one) lets the bytes be removed when unused.
pub struct Kept {
    files: Files,
    /// The store lease held on the bytes (its store and id), ended on drop.
    lease: Option<(Store, String)>,
    pub sha256: String,
    pub size: u64,
    pub content_type: &'static str,
    pub thumbnail: bool,
    pub name: String,
}

impl Kept {
    /// The attachment row naming these bytes, attached by `by` now.
    pub fn attachment(&self, by: &UserId) -> AttachmentView {
        AttachmentView {
            id: new_id(),
            name: self.name.clone(),
            content_type: self.content_type.to_string(),
            size: self.size,
            sha256: self.sha256.clone(),
            thumbnail: self.thumbnail,
            by: by.clone(),
            at: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// After an attach the owner refused (no such task or item, too many files, archived):
/// the bytes no row names are removed again.
pub(crate) async fn discard_if_refused(
    kernel: &Kernel,
    sha: &str,
    r: CoreResult<AttachmentView>,
) -> CoreResult<AttachmentView> {
    if r.is_err() {
        kernel.files().release(kernel.store(), sha).await;
    }
    r
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some((store, lease)) = self.lease.take() {
            let sha = self.sha256.clone();
            // Best effort: a lease not ended runs out by itself.
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = store.end_blob_lease(&sha, &lease).await;
                });
            }
        }
        let mut pending = self.files.0.pending.lock().expect("pending lock");
        if let Some(n) = pending.get_mut(&self.sha256) {
            *n -= 1;
            if *n == 0 {
                pending.remove(&self.sha256);
            }
        }
    }
}

/// Whether a stored attachment is a downloaded or a shown one.
pub fn served_inline(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

impl Files {
    /// Bytes under `dir` (created on first use); uploads up to `max_bytes`; one image
    /// decode per core.
    pub fn new(dir: PathBuf, max_bytes: u64) -> Self {
        Self::with_decode_limit(dir, max_bytes, DecodeLimit::default())
    }

    /// [`Files::new`] with `decodes` bounding the image decodes.
    pub fn with_decode_limit(dir: PathBuf, max_bytes: u64, decodes: DecodeLimit) -> Self {
        Self(Arc::new(Inner {
            dir,
            max_bytes,
            pending: Mutex::new(HashMap::new()),
            order: tokio::sync::Mutex::new(()),
            decodes: Arc::new(tokio::sync::Semaphore::new(decodes.at_once.max(1))),
            decode_wait: decodes.wait,
        }))
    }

    /// A turn to decode an image: waits in the queue up to the limit. The decode holds
    /// it until it ends, even when the upload that asked gave up.
    ///
    /// # Errors
    /// `Unavailable` when no turn came within the wait.
    pub async fn decode_turn(&self) -> CoreResult<tokio::sync::OwnedSemaphorePermit> {
        let queue = self.0.decodes.clone().acquire_owned();
        match tokio::time::timeout(self.0.decode_wait, queue).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                metrics::counter!("cflows_upload_decodes_refused_total").increment(1);
                Err(CoreError::Unavailable)
            }
        }
    }

    /// The largest upload accepted (bytes).
    pub fn max_bytes(&self) -> u64 {
        self.0.max_bytes
    }

    /// Where the files live.
    pub fn dir(&self) -> &Path {
        &self.0.dir
    }

    fn path(&self, sha: &str) -> PathBuf {
        self.0.dir.join(&sha[..2]).join(sha)
    }

    fn thumb_path(&self, sha: &str) -> PathBuf {
        self.0.dir.join(&sha[..2]).join(format!("{sha}.thumb.jpg"))
    }

    /// Checks an upload (name, size, type by content, image decode) and writes its
    /// bytes and thumbnail. Nothing is written when it is refused. Images wait for a
    /// decode turn (see [`DecodeLimit`]).
    ///
    /// # Errors
    /// `InvalidInput` with the reason; `Unavailable` when no decode turn came in time;
    /// `Internal` when the disk fails.
    pub async fn keep(&self, raw_name: &str, bytes: Vec<u8>) -> CoreResult<Kept> {
        self.keep_leased(None, raw_name, bytes).await
    }

    /// [`Files::keep`] holding a lease on the bytes in `store` until the returned
    /// [`Kept`] is dropped (after its row is committed): another node's removal of the
    /// same bytes waits for it (the files directory shared by several nodes).
    ///
    /// # Errors
    /// As [`Files::keep`]; `Unavailable` when a removal of the same bytes does not end.
    pub async fn keep_in(&self, store: &Store, raw_name: &str, bytes: Vec<u8>) -> CoreResult<Kept> {
        self.keep_leased(Some(store), raw_name, bytes).await
    }

    async fn keep_leased(
        &self,
        store: Option<&Store>,
        raw_name: &str,
        bytes: Vec<u8>,
    ) -> CoreResult<Kept> {
        let refused = |r: Refusal| CoreError::InvalidInput(r.to_string());
        let name = upload::file_name(raw_name).map_err(refused)?;
        let inspected: Inspected = upload::inspect(&bytes, self.0.max_bytes).map_err(refused)?;
        let (bytes, thumb) = if inspected.image {
            let content_type = inspected.content_type;
            let turn = self.decode_turn().await?;
            let (bytes, thumb) = tokio::task::spawn_blocking(move || {
                let thumb = upload::thumbnail(&bytes, content_type);
                drop(turn);
                (bytes, thumb)
            })
            .await
            .map_err(|e| CoreError::Internal(format!("thumbnail task: {e}")))?;
            (bytes, Some(thumb.map_err(refused)?))
        } else {
            (bytes, None)
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let lease = match store {
            Some(store) => Some((store.clone(), self.lease(store, &sha).await?)),
            None => None,
        };
        let _order = self.0.order.lock().await;
        let disk = |e: std::io::Error| CoreError::Internal(format!("attachment store: {e}"));
        write_once(&self.path(&sha), &bytes).await.map_err(disk)?;
        if let Some(t) = &thumb {
            write_once(&self.thumb_path(&sha), t).await.map_err(disk)?;
        }
        *self
            .0
            .pending
            .lock()
            .expect("pending lock")
            .entry(sha.clone())
            .or_default() += 1;
        Ok(Kept {
            files: self.clone(),
            lease,
            sha256: sha,
            size: bytes.len() as u64,
            content_type: inspected.content_type,
            thumbnail: thumb.is_some(),
            name,
        })
    }

    /// A profile picture from uploaded image bytes: the attachments' checks (size, type
    /// by content, decode limits, a decode turn), redrawn as a JPEG of at most
    /// [`upload::THUMBNAIL_SIDE`] px a side — what is kept is pixels drawn here, never
    /// the bytes that were sent — as the `data:image/jpeg;base64,…` URL a profile keeps.
    /// Nothing is written to disk.
    ///
    /// # Errors
    /// `InvalidInput` with the reason (not an image, too large, damaged);
    /// `Unavailable` when no decode turn came in time.
    pub async fn picture(&self, bytes: Vec<u8>) -> CoreResult<String> {
        use base64::Engine as _;
        let refused = |r: Refusal| CoreError::InvalidInput(r.to_string());
        let inspected = upload::inspect(&bytes, self.0.max_bytes).map_err(refused)?;
        if !inspected.image {
            return Err(CoreError::invalid(
                "a picture must be a PNG, JPEG, GIF or WebP image",
            ));
        }
        let content_type = inspected.content_type;
        let turn = self.decode_turn().await?;
        tokio::task::spawn_blocking(move || {
            let drawn = upload::thumbnail(&bytes, content_type);
            drop(turn);
            drawn
        })
        .await
        .map_err(|e| CoreError::Internal(format!("picture task: {e}")))?
        .map_err(refused)
        .map(|jpeg| {
            format!(
                "data:image/jpeg;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(jpeg)
            )
        })
    }

    /// The bytes of `sha` (or its thumbnail).
    ///
    /// # Errors
    /// `NotFound` when they are gone.
    pub async fn read(&self, sha: &str, thumbnail: bool) -> CoreResult<Vec<u8>> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CoreError::NotFound);
        }
        let path = if thumbnail {
            self.thumb_path(sha)
        } else {
            self.path(sha)
        };
        tokio::fs::read(path).await.map_err(|_| CoreError::NotFound)
    }

    /// A lease on the bytes `sha` in `store` (waiting while another node removes them).
    async fn lease(&self, store: &Store, sha: &str) -> CoreResult<String> {
        let id = new_id();
        for _ in 0..100 {
            let now = chrono::Utc::now().timestamp_millis();
            if store.lease_blob(sha, &id, now, now + LEASE_MS).await? {
                return Ok(id);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(CoreError::Unavailable)
    }

    /// Removes the bytes of `sha` if no attachment row names them and no upload of them
    /// is pending here or holds a lease on any node. Call after committing a row's
    /// deletion.
    pub async fn release(&self, store: &Store, sha: &str) {
        let _order = self.0.order.lock().await;
        if self
            .0
            .pending
            .lock()
            .expect("pending lock")
            .contains_key(sha)
        {
            return;
        }
        let now = chrono::Utc::now().timestamp_millis();
        match store.begin_blob_removal(sha, now).await {
            Ok(true) => {
                for path in [self.path(sha), self.thumb_path(sha)] {
                    if let Err(e) = tokio::fs::remove_file(&path).await
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(path = %path.display(), error = %e, "attachment bytes not removed");
                    }
                }
                if let Err(e) = store.end_blob_removal(sha).await {
                    tracing::warn!(error = %e, "attachment removal not recorded as done (it runs out)");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "attachment uses not counted; bytes kept"),
        }
    }

    /// Writes bytes whose hash is known (an import), with an image's thumbnail.
    ///
    /// # Errors
    /// `Internal` when the disk fails or the bytes do not match `sha`.
    pub async fn put_exact(&self, sha: &str, bytes: &[u8]) -> CoreResult<()> {
        if hex::encode(Sha256::digest(bytes)) != sha {
            return Err(CoreError::Internal(format!(
                "bytes of {sha} do not match it"
            )));
        }
        let disk = |e: std::io::Error| CoreError::Internal(format!("attachment store: {e}"));
        write_once(&self.path(sha), bytes).await.map_err(disk)?;
        if let Ok(i) = upload::inspect(bytes, u64::MAX)
            && i.image
        {
            let turn = self.0.decodes.clone().acquire_owned().await;
            let (data, content_type) = (bytes.to_vec(), i.content_type);
            if let Ok(Ok(thumb)) = tokio::task::spawn_blocking(move || {
                let thumb = upload::thumbnail(&data, content_type);
                drop(turn);
                thumb
            })
            .await
            {
                write_once(&self.thumb_path(sha), &thumb)
                    .await
                    .map_err(disk)?;
            }
        }
        Ok(())
    }

    /// Removes bytes written by a failed import.
    pub async fn remove_unchecked(&self, sha: &str) {
        for path in [self.path(sha), self.thumb_path(sha)] {
            let _ = tokio::fs::remove_file(path).await;
        }
    }

    /// Whether the bytes of `sha` are on disk.
    pub async fn exists(&self, sha: &str) -> bool {
        tokio::fs::try_exists(self.path(sha)).await.unwrap_or(false)
    }
}

/// Writes `bytes` at `path` unless a file is there (same hash, same bytes): to a
/// temporary name first, then renamed, so a crash never leaves half a file under a hash.
async fn write_once(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if tokio::fs::try_exists(path).await? {
        return Ok(());
    }
    let parent = path.parent().expect("attachment paths have a directory");
    tokio::fs::create_dir_all(parent).await?;
    let tmp = parent.join(format!(".{}.tmp", crate::store::new_id()));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    #[tokio::test]
    async fn a_picture_is_redrawn_small_as_a_jpeg_and_a_drawing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::new(dir.path().join("files"), 5 * 1024 * 1024);
        let mut png = Vec::new();
        image::RgbImage::from_pixel(900, 300, image::Rgb([200, 30, 30]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let url = files.picture(png).await.unwrap();
        let b64 = url.strip_prefix("data:image/jpeg;base64,").unwrap();
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let drawn = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((drawn.width(), drawn.height()), (320, 107));
        assert!(url.len() < crate::domain::validate::MAX_AVATAR_BYTES);
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        let refused = files.picture(svg.to_vec()).await.unwrap_err();
        assert!(refused.to_string().contains("SVG"), "{refused}");
        let pdf = b"%PDF-1.4\n".to_vec();
        assert!(files.picture(pdf).await.is_err(), "not an image");
        assert!(!dir.path().join("files").exists(), "nothing is written");
    }

    #[tokio::test]
    async fn bytes_an_upload_on_another_node_is_committing_are_not_removed_under_it() {
        let dir = tempfile::tempdir().unwrap();
        let store_a = crate::testing::memory_store().await;
        let store_b = store_a.as_new_node();
        // Two nodes, one files volume.
        let on_a = Files::new(dir.path().join("files"), 5 * 1024 * 1024);
        let on_b = Files::new(dir.path().join("files"), 5 * 1024 * 1024);
        let bytes = b"Scratch on the left door, photographed at the desk.".to_vec();
        let kept = on_b
            .keep_in(&store_b, "note.txt", bytes.clone())
            .await
            .unwrap();
        let sha = kept.sha256.clone();
        // Node A removes what no row names (another organization deleted the same
        // bytes): node B's upload is between writing them and committing its row.
        on_a.release(&store_a, &sha).await;
        assert!(on_a.exists(&sha).await, "kept while B's upload holds them");
        // B's row committed (here: its upload is over): A may remove them now.
        drop(kept);
        for _ in 0..50 {
            on_a.release(&store_a, &sha).await;
            if !on_a.exists(&sha).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!on_a.exists(&sha).await, "removed once nobody holds them");
        // While A removes them, B's next upload of the same bytes waits, then writes.
        let now = chrono::Utc::now().timestamp_millis();
        assert!(store_a.begin_blob_removal(&sha, now).await.unwrap());
        let again = {
            let on_b = on_b.clone();
            let store_b = store_b.clone();
            tokio::spawn(async move { on_b.keep_in(&store_b, "note.txt", bytes).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!again.is_finished(), "waits for the removal");
        store_a.end_blob_removal(&sha).await.unwrap();
        let kept = again.await.unwrap().unwrap();
        assert!(on_b.exists(&kept.sha256).await);
    }
}
