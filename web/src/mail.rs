//! Outbound mail. A message is decided with the change that causes it: an `outbox` row
//! written in the same transaction (`writes::enqueue_mail`), so a change is never kept
//! without its mail nor a mail sent for a change that was not kept. Every node runs
//! [`deliver`]: it claims due messages for a minute (one node per message), sends them
//! over SMTP (lettre), and marks each sent, or queues it again later (backoff), or
//! failed — visible on `/staff/mail` with a button to send it again. A node killed
//! while sending leaves its claim to run out; another node sends the message then, with
//! the same `Message-ID` (derived from the outbox row), so a mail program recognises a
//! repeat.

use crate::AppState;
use crate::settings::Settings;
use cflows_actors::store::{OutboxRecord, OutgoingMail};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use maud::{DOCTYPE, html};
use std::time::Duration;
use tokio::sync::Notify;

/// How long a node's claim on a message lasts before another node may send it.
const CLAIM_MS: i64 = 60_000;
/// Attempts before a message is marked failed.
const MAX_ATTEMPTS: i64 = 8;
/// The longest wait between two attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// The SMTP transport (none when mail is off) and the sender.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    /// The host part of `Message-ID`s (from `http.public_url`).
    host: String,
    /// Rung when this node queued a message: the worker looks at once.
    wake: Notify,
    /// The wait before the first retry (`mail.retry_secs`).
    first_retry: Duration,
}

impl Mailer {
    /// The mailer `settings` describe.
    ///
    /// # Errors
    /// `mail.smtp_url` or `mail.from` does not parse (a message saying which).
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let host = settings
            .http
            .public_url()
            .split_once("://")
            .map(|(_, rest)| {
                rest.split(['/', ':'])
                    .next()
                    .unwrap_or("localhost")
                    .to_string()
            })
            .unwrap_or_else(|| "localhost".into());
        let first_retry = Duration::from_secs(settings.mail.retry_secs.max(1));
        if !settings.mail.enabled() {
            return Ok(Self {
                transport: None,
                from: None,
                host,
                wake: Notify::new(),
                first_retry,
            });
        }
        let url = settings.mail.smtp_url.trim();
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("mail.smtp_url does not work: {e}"))?
            .timeout(Some(Duration::from_secs(30)));
        let ca = settings.mail.tls_ca_file.trim();
        if !ca.is_empty() {
            builder = builder.tls(tls_trusting(url, ca)?);
        }
        let transport = builder.build();
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|e| format!("mail.from is not an address ({e}): write it like `Demo Motors <cflows@example.com>`"))?;
        Ok(Self {
            transport: Some(transport),
            from: Some(from),
            host,
            wake: Notify::new(),
            first_retry,
        })
    }

    /// Whether mail is sent at all (`mail.smtp_url` is set).
    pub fn enabled(&self) -> bool {
        self.transport.is_some()
    }

    /// The sender's bare address (an invitation's organizer).
    pub fn from_address(&self) -> Option<String> {
        self.from.as_ref().map(|m| m.email.to_string())
    }

    /// A message was queued here: look now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The `Message-ID` of outbox row `id` (the same on every attempt).
    pub fn message_id(&self, id: &str) -> String {
        format!("<{id}@{}>", self.host)
    }

    async fn send(&self, rec: &OutboxRecord) -> Result<(), (bool, String)> {
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return Err((false, "mail is off (mail.smtp_url is not set)".into()));
        };
        let to: Mailbox = rec
            .mail
            .to
            .parse()
            .map_err(|e| (true, format!("{} is not an address: {e}", rec.mail.to)))?;
        let mut builder = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(&rec.mail.subject)
            .message_id(Some(self.message_id(&rec.id)));
        if let Some(url) = &rec.mail.unsubscribe {
            // RFC 8058 one-click: mail programs offer "Unsubscribe" and POST to it.
            use lettre::message::header::{HeaderName, HeaderValue};
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let body = MultiPart::alternative_plain_html(rec.mail.text.clone(), rec.mail.html.clone());
        let message = match (&rec.mail.ics_method, &rec.mail.ics) {
            (Some(method), Some(ics)) => builder.multipart(calendar_body(body, method, ics)),
            _ => builder.multipart(body),
        }
        .map_err(|e| (true, format!("the message could not be built: {e}")))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| (e.is_permanent(), e.to_string()))
    }
}

/// The TLS of `url` (lettre's form) trusting the certificate authority in PEM file `ca`
/// besides the public ones: a private relay's own certificate.
fn tls_trusting(url: &str, ca: &str) -> Result<lettre::transport::smtp::client::Tls, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let parsed = url::Url::parse(url).map_err(|e| format!("mail.smtp_url does not parse: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("mail.smtp_url names no host")?
        .to_string();
    let pem =
        std::fs::read(ca).map_err(|e| format!("mail.tls_ca_file {ca} cannot be read: {e}"))?;
    let cert = Certificate::from_pem(&pem)
        .map_err(|e| format!("mail.tls_ca_file {ca} is not a PEM certificate: {e}"))?;
    let params = TlsParameters::builder(host)
        .add_root_certificate(cert)
        .build()
        .map_err(|e| format!("mail.tls_ca_file {ca} cannot be used: {e}"))?;
    let tls = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    match (parsed.scheme(), tls.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(params)),
        ("smtp", Some("required")) => Ok(Tls::Required(params)),
        ("smtp", Some("opportunistic")) => Ok(Tls::Opportunistic(params)),
        _ => Err("mail.tls_ca_file is set but mail.smtp_url uses no TLS: write smtps://… or smtp://…?tls=required".into()),
    }
}

/// A calendar message (RFC 6047): the words, then the iCalendar object as the last
/// alternative (`text/calendar; method=…`, which mail programs turn into "Add to
/// calendar" or apply at once) and as an `invite.ics` attachment for those that only
/// look at attachments.
fn calendar_body(words: MultiPart, method: &str, ics: &str) -> MultiPart {
    use lettre::message::header::ContentType;
    use lettre::message::{Attachment, SinglePart};
    let method: String = method.chars().filter(char::is_ascii_alphabetic).collect();
    let calendar = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))
        .unwrap_or(ContentType::TEXT_PLAIN);
    let file = ContentType::parse("application/ics").unwrap_or(ContentType::TEXT_PLAIN);
    let alternatives =
        words.singlepart(SinglePart::builder().header(calendar).body(ics.to_string()));
    MultiPart::mixed()
        .multipart(alternatives)
        .singlepart(Attachment::new("invite.ics".into()).body(ics.to_string(), file))
}

/// A mail's words before they are rendered as text and HTML.
pub struct Letter<'a> {
    /// Who it is from, for people: the organization's name (or "cflows").
    pub sender: &'a str,
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// The one thing to do: a button's words and its absolute link.
    pub action: Option<(String, String)>,
    /// Why they got it, small at the bottom.
    pub footer: String,
}

/// Renders `letter` to `to` as a message of `kind` (both parts carry the same words and
/// the link).
pub fn compose(
    kind: &str,
    org: Option<&str>,
    to: &str,
    letter: &Letter<'_>,
    sensitive: bool,
) -> OutgoingMail {
    let mut text = String::new();
    for p in &letter.paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
    }
    if let Some((label, link)) = &letter.action {
        text.push_str(&format!("{label}:\n{link}\n\n"));
    }
    text.push_str(&format!("-- \n{}\n{}\n", letter.sender, letter.footer));
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (letter.subject) } }
            body style="font-family: system-ui, sans-serif; color: #1f2933; background: #f5f7fa; margin: 0; padding: 24px;" {
                div style="max-width: 560px; margin: 0 auto; background: #fff; border-radius: 8px; padding: 24px;" {
                    p style="font-size: 14px; color: #52606d; margin-top: 0;" { (letter.sender) }
                    @for p in &letter.paragraphs { p style="font-size: 16px; line-height: 1.5;" { (p) } }
                    @if let Some((label, link)) = &letter.action {
                        p style="margin: 24px 0;" {
                            a href=(link) style="background: #1d4ed8; color: #fff; padding: 12px 20px; border-radius: 6px; text-decoration: none; font-weight: 600;" { (label) }
                        }
                        p style="font-size: 13px; color: #52606d;" { "Or open this link: " a href=(link) { (link) } }
                    }
                    p style="font-size: 12px; color: #7b8794; border-top: 1px solid #e4e7eb; padding-top: 12px;" { (letter.footer) }
                }
            }
        }
    };
    OutgoingMail {
        org: org.map(str::to_string),
        kind: kind.to_string(),
        to: to.to_string(),
        subject: one_line(&letter.subject),
        text,
        html: html.into_string(),
        sensitive,
        unsubscribe: None,
        ics_method: None,
        ics: None,
    }
}

/// `text` on one line: line breaks and other control characters (from a title people
/// typed) become single spaces, so a subject never spans lines once decoded (lettre
/// encodes it, so none could ever start a header).
fn one_line(text: &str) -> String {
    text.split(char::is_control)
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long to wait after `attempts` attempts (none: give up): `first` after the
/// first, doubling, at most an hour.
fn retry_after(first: Duration, attempts: i64) -> Option<Duration> {
    (attempts < MAX_ATTEMPTS).then(|| {
        let doublings = (attempts - 1).clamp(0, 7) as u32;
        first.saturating_mul(1 << doublings).min(MAX_RETRY_WAIT)
    })
}

/// Sends what is due, on this node, until the core stops: every second, and at once
/// when this node queued something.
pub async fn deliver(state: AppState) {
    let mailer = state.mailer.clone();
    if !mailer.enabled() {
        return;
    }
    let store = state.core.directory.store().clone();
    let node = store.node().to_string();
    let stopped = state.core.kernel.stopped();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = mailer.wake.notified() => {}
            _ = stopped.cancelled() => return,
        }
        let now = chrono::Utc::now().timestamp_millis();
        let batch = match store.claim_mail(&node, now, CLAIM_MS, 10).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "mail: could not read the outbox");
                continue;
            }
        };
        for rec in batch {
            let now = chrono::Utc::now().timestamp_millis();
            let outcome = match mailer.send(&rec).await {
                Ok(()) => {
                    metrics::counter!("cflows_mail_sent_total", "kind" => rec.mail.kind.clone())
                        .increment(1);
                    store.mail_sent(&rec.id, now).await
                }
                Err((permanent, error)) => {
                    let attempts = rec.attempts + 1;
                    let retry = (!permanent)
                        .then(|| retry_after(mailer.first_retry, attempts))
                        .flatten()
                        .map(|d| now + d.as_millis() as i64);
                    if retry.is_none() {
                        metrics::counter!("cflows_mail_failed_total", "kind" => rec.mail.kind.clone())
                            .increment(1);
                    }
                    tracing::warn!(id = %rec.id, to = %rec.mail.to, %error, attempts, "mail not sent");
                    store.mail_not_sent(&rec.id, &error, retry).await
                }
            };
            if let Err(e) = outcome {
                tracing::warn!(id = %rec.id, error = %e, "mail: could not record the outcome");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_retry_waits_the_setting_then_twice_as_long_up_to_an_hour() {
        let first = Duration::from_secs(30);
        assert_eq!(retry_after(first, 1), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(first, 2), Some(Duration::from_secs(60)));
        assert_eq!(retry_after(first, 7), Some(Duration::from_secs(1920)));
        assert_eq!(
            retry_after(Duration::from_secs(600), 7),
            Some(MAX_RETRY_WAIT)
        );
        assert_eq!(retry_after(first, MAX_ATTEMPTS), None, "then it failed");
        assert_eq!(
            retry_after(Duration::from_secs(1), 1),
            Some(Duration::from_secs(1))
        );
    }
}
