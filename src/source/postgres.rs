//! PostgreSQL's catalog: each table's columns in order, their types with precision and scale,
//! nullability and the primary key, mapped to the lake's column types.
//!
//! Connection settings follow libpq: a `postgres://user@host:port/db?sslmode=...` URL (or
//! `key=value` pairs), completed from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`,
//! `PGSSLMODE`, `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT` and `PGAPPNAME`. TLS is rustls (no OpenSSL):
//! `require` encrypts without checking the certificate, as libpq does; `verify-ca` and
//! `verify-full` check it against `sslrootcert` (for RDS, its CA bundle) or the system's roots.

use super::CatalogTable;
use crate::lake::lineage::is_reserved_name;
use crate::model::change::TableId;
use crate::model::types::decimal;
use crate::schema::{Column, ColumnType, TableSchema, TypeSource};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres::config::SslMode;

/// Scale registered for `numeric` without a declared precision: DMS rounds those values to
/// 6 decimals, and 38 digits leave room for any integer part DMS sends (it uses 28).
pub const UNBOUNDED_NUMERIC: ColumnType = ColumnType::Decimal {
    precision: 38,
    scale: 6,
};

/// The catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The connection string or the libpq environment is not usable.
    #[error("--source: {0}")]
    Settings(String),
    /// The connection or the login failed.
    #[error("cannot connect to PostgreSQL at {target}: {message}. Check the host and port, the user, and the password (PGPASSWORD); for TLS see sslmode and sslrootcert")]
    Connect {
        /// `user@host:port/database` as resolved, without the password.
        target: String,
        /// The driver's error and its causes.
        message: String,
    },
    /// A catalog query failed.
    #[error("reading PostgreSQL's catalog failed: {0}")]
    Query(String),
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, certificate not checked (as `prefer` here).
    Allow,
    /// TLS when the server offers it, certificate not checked.
    Prefer,
    /// TLS required, certificate not checked.
    Require,
    /// TLS required; the certificate must chain to `sslrootcert` (or the system roots).
    VerifyCa,
    /// As `verify-ca`, and the certificate must also name the host.
    VerifyFull,
}

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<TlsMode, String> {
        Ok(match s {
            "disable" => TlsMode::Disable,
            "allow" => TlsMode::Allow,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            other => {
                return Err(format!(
                "sslmode={other:?}: accepted values: disable, allow, prefer, require, verify-ca, verify-full"
            ))
            }
        })
    }
}

/// Everything needed to connect, resolved from the URL and the libpq environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Host, port, user, password and database, as tokio-postgres takes them.
    pub config: tokio_postgres::Config,
    /// How TLS is negotiated and checked (`sslmode` / `PGSSLMODE`).
    pub tls: TlsMode,
    /// PEM file of trusted roots (`sslrootcert` / `PGSSLROOTCERT`).
    pub root_cert: Option<String>,
    /// True when the password came from the URL (visible in the process list; PGPASSWORD is
    /// the better place).
    pub password_in_url: bool,
}

impl Settings {
    /// Resolves `source` (a URL or `key=value` pairs) with `env` as libpq's environment.
    pub fn resolve(
        source: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, SourceError> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        // sslmode and sslrootcert are read here: tokio-postgres knows neither verify-* nor
        // sslrootcert.
        let (rest, extra) = split_tls_options(source);
        let mut config: tokio_postgres::Config = rest
            .parse()
            .map_err(|e: tokio_postgres::Error| SourceError::Settings(e.to_string()))?;
        let password_in_url = config.get_password().is_some();
        if config.get_hosts().is_empty() {
            config.host(env("PGHOST").as_deref().unwrap_or("localhost"));
        }
        if config.get_ports().is_empty() {
            if let Some(p) = env("PGPORT") {
                let port = p.parse::<u16>().map_err(|_| {
                    SourceError::Settings(format!("PGPORT={p:?} is not a port number"))
                })?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .unwrap_or_else(|| "postgres".into());
            config.user(&user);
        }
        if config.get_dbname().is_none() {
            if let Some(db) = env("PGDATABASE") {
                config.dbname(&db);
            }
        }
        if config.get_password().is_none() {
            if let Some(pw) = env("PGPASSWORD") {
                config.password(pw);
            }
        }
        if config.get_connect_timeout().is_none() {
            let secs = env("PGCONNECT_TIMEOUT")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(15);
            config.connect_timeout(Duration::from_secs(secs.max(2)));
        }
        if config.get_application_name().is_none() {
            config.application_name(
                env("PGAPPNAME")
                    .as_deref()
                    .unwrap_or("cdc-sink schema import"),
            );
        }
        let mode = extra
            .get("sslmode")
            .cloned()
            .or_else(|| env("PGSSLMODE"))
            .unwrap_or_else(|| "prefer".into());
        let tls: TlsMode = mode.parse().map_err(SourceError::Settings)?;
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Allow | TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        let root_cert = extra
            .get("sslrootcert")
            .cloned()
            .or_else(|| env("PGSSLROOTCERT"));
        Ok(Settings {
            config,
            tls,
            root_cert,
            password_in_url,
        })
    }

    /// `user@host:port/db`, for messages (never the password).
    pub fn target(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        format!(
            "{}@{}:{}/{}",
            self.config.get_user().unwrap_or(""),
            host,
            self.config.get_ports().first().copied().unwrap_or(5432),
            self.config
                .get_dbname()
                .or(self.config.get_user())
                .unwrap_or("")
        )
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a `key=value` string.
fn split_tls_options(source: &str) -> (String, HashMap<String, String>) {
    let mut extra = HashMap::new();
    let is_url = source.starts_with("postgres://") || source.starts_with("postgresql://");
    if is_url {
        let Some((base, query)) = source.split_once('?') else {
            return (source.to_string(), extra);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((k @ ("sslmode" | "sslrootcert"), v)) => {
                    extra.insert(k.to_string(), percent_decode(v));
                }
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (rest, extra)
    } else {
        let mut kept = Vec::new();
        for word in source.split_whitespace() {
            match word.split_once('=') {
                Some((k @ ("sslmode" | "sslrootcert"), v)) => {
                    extra.insert(k.to_string(), v.trim_matches('\'').to_string());
                }
                _ => kept.push(word),
            }
        }
        (kept.join(" "), extra)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Connects; the connection runs on a spawned task until the client is dropped.
pub async fn connect(s: &Settings) -> Result<tokio_postgres::Client, SourceError> {
    let fail = |e: tokio_postgres::Error| SourceError::Connect {
        target: s.target(),
        message: error_text(&e),
    };
    if s.tls == TlsMode::Disable {
        let (client, conn) = s
            .config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(fail)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        return Ok(client);
    }
    let tls = tls::MakeRustls::new(s.tls, s.root_cert.as_deref()).map_err(|message| {
        SourceError::Connect {
            target: s.target(),
            message,
        }
    })?;
    let (client, conn) = s.config.connect(tls).await.map_err(fail)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The error and its causes on one line (tokio-postgres puts the useful part in the source).
pub(crate) fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        cur = c.source();
    }
    text
}

/// Which tables to read: `schemas` (empty: every schema but PostgreSQL's own) and `tables`
/// (empty: every table of those schemas).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Schemas to read; empty reads every schema but PostgreSQL's own.
    pub schemas: Vec<String>,
    /// Tables to read; empty reads every table of the selected schemas.
    pub tables: Vec<TableId>,
}

impl Selection {
    fn wants(&self, t: &TableId) -> bool {
        (self.schemas.is_empty() || self.schemas.contains(&t.schema))
            && (self.tables.is_empty() || self.tables.contains(t))
    }
}

/// A column's type as the catalog gives it, with domains resolved to their base type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType {
    /// `pg_type.typname` of the (base) type, e.g. `int4`, `numeric`, `_text`.
    pub name: String,
    /// `t` base, `e` enum, `c` composite, `r` range, ...
    pub kind: char,
    /// `pg_type.typcategory`: `A` for arrays.
    pub category: char,
    /// The type modifier (-1: none).
    pub typmod: i32,
    /// `format_type()` of the column, for messages.
    pub formatted: String,
    /// The domains on the way to the base type, outermost first.
    pub domains: Vec<String>,
}

/// Maps a PostgreSQL type to a lake column type: `Err` carries the note for a type that is
/// kept as string because it has no exact counterpart.
pub fn map_type(t: &PgType) -> Result<ColumnType, String> {
    if t.category == 'A' {
        // DMS sends arrays as PostgreSQL's text form, e.g. {1,2,3}.
        return Ok(ColumnType::String);
    }
    if t.kind == 'e' {
        return Ok(ColumnType::String);
    }
    Ok(match t.name.as_str() {
        "int2" | "int4" => ColumnType::Int32,
        "int8" => ColumnType::Int64,
        "float4" | "float8" => ColumnType::Float64,
        "bool" => ColumnType::Boolean,
        "numeric" if t.typmod >= 4 => {
            let p = ((t.typmod - 4) >> 16) & 0xffff;
            let s = (t.typmod - 4) & 0xffff;
            decimal(p as u32, s as u32).ok_or_else(|| {
                format!("{} has more than 38 digits (or a negative scale), beyond Athena's decimal; kept as string", t.formatted)
            })?
        }
        "numeric" => UNBOUNDED_NUMERIC,
        "text" | "varchar" | "bpchar" | "char" | "name" | "citext" => ColumnType::String,
        "date" => ColumnType::Date,
        "timestamp" | "timestamptz" => ColumnType::Timestamp,
        // Athena reads no time-of-day or interval type from Parquet: their text form.
        "time" | "timetz" | "interval" => ColumnType::String,
        "uuid" | "json" | "jsonb" | "xml" => ColumnType::String,
        "bytea" => ColumnType::Binary,
        _ => {
            return Err(format!(
                "type {} has no exact lake type; kept as string (DMS sends its text form)",
                t.formatted
            ))
        }
    })
}

const COLUMNS_SQL: &str = "
SELECT n.nspname::text, c.relname::text, a.attname::text, a.attnotnull, a.atttypid, a.atttypmod,
       format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname, a.attnum";

const TYPE_SQL: &str = "
SELECT t.typname::text, t.typtype::text, t.typcategory::text, t.typbasetype, t.typtypmod
FROM pg_catalog.pg_type t WHERE t.oid = $1";

const PRIMARY_KEYS_SQL: &str = "
SELECT n.nspname::text, c.relname::text, a.attname::text
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indisprimary
ORDER BY 1, 2, k.ord";

/// Resolves a type (and its modifier), following domains to their base type.
pub(crate) async fn resolve_type(
    client: &tokio_postgres::Client,
    cache: &mut HashMap<u32, (String, char, char, u32, i32)>,
    oid: u32,
    typmod: i32,
    formatted: String,
) -> Result<PgType, SourceError> {
    let (mut oid, mut typmod) = (oid, typmod);
    let mut domains = Vec::new();
    for _ in 0..16 {
        let info = match cache.get(&oid) {
            Some(i) => i.clone(),
            None => {
                let row = client
                    .query_one(TYPE_SQL, &[&oid])
                    .await
                    .map_err(|e| SourceError::Query(error_text(&e)))?;
                let first = |s: String| s.chars().next().unwrap_or(' ');
                let info = (
                    row.get::<_, String>(0),
                    first(row.get(1)),
                    first(row.get(2)),
                    row.get::<_, u32>(3),
                    row.get::<_, i32>(4),
                );
                cache.insert(oid, info.clone());
                info
            }
        };
        let (name, kind, category, base, base_mod) = info;
        if kind == 'd' {
            domains.push(name);
            oid = base;
            if base_mod >= 0 {
                typmod = base_mod;
            }
            continue;
        }
        return Ok(PgType {
            name,
            kind,
            category,
            typmod,
            formatted,
            domains,
        });
    }
    Err(SourceError::Query(format!(
        "type {formatted}: domains nested more than 16 deep"
    )))
}

/// Reads the selected tables from the catalog, in (schema, table) order.
pub async fn read_catalog(
    client: &tokio_postgres::Client,
    sel: &Selection,
) -> Result<Vec<CatalogTable>, SourceError> {
    let q = |e: tokio_postgres::Error| SourceError::Query(error_text(&e));
    let mut keys: HashMap<TableId, Vec<String>> = HashMap::new();
    for row in client.query(PRIMARY_KEYS_SQL, &[]).await.map_err(q)? {
        let id = TableId::new(row.get::<_, String>(0), row.get::<_, String>(1));
        keys.entry(id).or_default().push(lake_name(row.get(2)));
    }
    let mut types = HashMap::new();
    let mut out: Vec<CatalogTable> = Vec::new();
    for row in client.query(COLUMNS_SQL, &[]).await.map_err(q)? {
        let id = TableId::new(row.get::<_, String>(0), row.get::<_, String>(1));
        if !sel.wants(&id) {
            continue;
        }
        let name = lake_name(row.get(2));
        let not_null: bool = row.get(3);
        let ty = resolve_type(client, &mut types, row.get(4), row.get(5), row.get(6)).await?;
        if out.last().is_none_or(|t| t.id != id) {
            let pk = keys.remove(&id).unwrap_or_default();
            out.push(CatalogTable::empty(id.clone(), pk));
        }
        let Some(t) = out.last_mut() else { continue };
        let col_ty = match map_type(&ty) {
            Ok(c) => c,
            Err(note) => {
                t.notes.push(format!("{id}.{name}: {note}"));
                ColumnType::String
            }
        };
        if col_ty == UNBOUNDED_NUMERIC && ty.name == "numeric" && ty.typmod < 0 {
            t.notes.push(format!(
                "{id}.{name}: numeric without precision is registered as {UNBOUNDED_NUMERIC} (DMS rounds such values to 6 decimals)"
            ));
        }
        t.schema.columns.push(Column {
            name,
            ty: col_ty,
            nullable: !not_null,
            source: TypeSource::Catalog,
            renamed_from: None,
        });
    }
    for want in &sel.tables {
        if !out.iter().any(|t| &t.id == want) {
            return Err(SourceError::Query(format!(
                "no table {want} in the catalog (or no privilege to see it)"
            )));
        }
    }
    Ok(out)
}

/// A source column's name in the lake: names that clash with lineage columns get `src_`, as
/// the pipeline writes them.
fn lake_name(name: String) -> String {
    if is_reserved_name(&name) {
        format!("src_{name}")
    } else {
        name
    }
}

impl CatalogTable {
    fn empty(id: TableId, primary_key: Vec<String>) -> CatalogTable {
        CatalogTable {
            id,
            schema: TableSchema {
                columns: Vec::new(),
                primary_key,
            },
            notes: Vec::new(),
        }
    }
}

/// rustls for tokio-postgres, with libpq's certificate policies.
mod tls {
    use super::TlsMode;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::crypto::{aws_lc_rs, CryptoProvider};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

    #[derive(Clone)]
    pub(crate) struct MakeRustls {
        config: Arc<ClientConfig>,
    }

    impl MakeRustls {
        pub(crate) fn new(mode: TlsMode, root_cert: Option<&str>) -> Result<MakeRustls, String> {
            let provider = Arc::new(aws_lc_rs::default_provider());
            let builder = ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?;
            let config = match mode {
                TlsMode::VerifyCa | TlsMode::VerifyFull => {
                    let mut roots = RootCertStore::empty();
                    match root_cert {
                        Some(path) => {
                            let certs: Vec<CertificateDer<'static>> =
                                CertificateDer::pem_file_iter(path)
                                    .and_then(|i| i.collect())
                                    .map_err(|e| format!("sslrootcert {path}: {e}"))?;
                            roots.add_parsable_certificates(certs);
                        }
                        None => {
                            roots.add_parsable_certificates(
                                rustls_native_certs::load_native_certs().certs,
                            );
                        }
                    }
                    if roots.is_empty() {
                        return Err("no trusted root certificates (set sslrootcert or PGSSLROOTCERT to the server's CA bundle, e.g. RDS's global-bundle.pem)".into());
                    }
                    let webpki = WebPkiServerVerifier::builder_with_provider(
                        Arc::new(roots),
                        provider.clone(),
                    )
                    .build()
                    .map_err(|e| e.to_string())?;
                    let verifier: Arc<dyn ServerCertVerifier> = if mode == TlsMode::VerifyFull {
                        webpki
                    } else {
                        Arc::new(ChainOnly { inner: webpki })
                    };
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(verifier)
                        .with_no_client_auth()
                }
                _ => builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(EncryptOnly { provider }))
                    .with_no_client_auth(),
            };
            Ok(MakeRustls {
                config: Arc::new(config),
            })
        }
    }

    /// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
    #[derive(Debug)]
    struct ChainOnly {
        inner: Arc<WebPkiServerVerifier>,
    }

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self
                .inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls12_signature(message, cert, dss)
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.inner.verify_tls13_signature(message, cert, dss)
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    }

    /// `prefer` and `require`: encrypted, certificate not checked (libpq's behaviour without
    /// a root certificate); the handshake signatures are still verified.
    #[derive(Debug)]
    struct EncryptOnly {
        provider: Arc<CryptoProvider>,
    }

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    impl<S> MakeTlsConnect<S> for MakeRustls
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = Stream<S>;
        type TlsConnect = Connect;
        type Error = io::Error;

        fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
            let name = ServerName::try_from(domain.to_string())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            Ok(Connect {
                connector: tokio_rustls::TlsConnector::from(self.config.clone()),
                name,
            })
        }
    }

    pub(crate) struct Connect {
        connector: tokio_rustls::TlsConnector,
        name: ServerName<'static>,
    }

    impl<S> TlsConnect<S> for Connect
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        type Stream = Stream<S>;
        type Error = io::Error;
        type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

        fn connect(self, stream: S) -> Self::Future {
            Box::pin(async move {
                let s = self.connector.connect(self.name, stream).await?;
                Ok(Stream(s))
            })
        }
    }

    /// The TLS stream (no channel binding: SCRAM still authenticates, without tying the
    /// password exchange to this TLS session).
    pub(crate) struct Stream<S>(tokio_rustls::client::TlsStream<S>);

    impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
        fn channel_binding(&self) -> ChannelBinding {
            ChannelBinding::none()
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(name: &str, kind: char, category: char, typmod: i32) -> PgType {
        PgType {
            name: name.into(),
            kind,
            category,
            typmod,
            formatted: name.into(),
            domains: vec![],
        }
    }

    #[test]
    fn maps_the_types() {
        // numeric(12,2): typmod = (12 << 16 | 2) + 4.
        let n = ty("numeric", 'b', 'N', (12 << 16 | 2) + 4);
        assert_eq!(
            map_type(&n),
            Ok(ColumnType::Decimal {
                precision: 12,
                scale: 2
            })
        );
        assert_eq!(
            map_type(&ty("numeric", 'b', 'N', -1)),
            Ok(UNBOUNDED_NUMERIC)
        );
        assert!(map_type(&ty("numeric", 'b', 'N', (60 << 16 | 2) + 4)).is_err());
        assert_eq!(map_type(&ty("int8", 'b', 'N', -1)), Ok(ColumnType::Int64));
        assert_eq!(map_type(&ty("_int4", 'b', 'A', -1)), Ok(ColumnType::String));
        assert_eq!(map_type(&ty("mood", 'e', 'E', -1)), Ok(ColumnType::String));
        assert_eq!(map_type(&ty("bytea", 'b', 'U', -1)), Ok(ColumnType::Binary));
        assert!(map_type(&ty("point", 'b', 'G', -1))
            .unwrap_err()
            .contains("kept as string"));
    }

    #[test]
    fn settings_follow_libpq() {
        let env: HashMap<&str, &str> = [
            ("PGPASSWORD", "s3cret"),
            ("PGSSLMODE", "require"),
            ("PGUSER", "ignored"),
        ]
        .into_iter()
        .collect();
        let lookup = |k: &str| env.get(k).map(|v| v.to_string());
        let s = Settings::resolve(
            "postgres://app@db.example:6432/shop?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem",
            &lookup,
        )
        .unwrap();
        assert_eq!(s.tls, TlsMode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(s.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(s.target(), "app@db.example:6432/shop");
        assert!(!s.password_in_url);
        let s = Settings::resolve("postgres://db.example/shop", &lookup).unwrap();
        assert_eq!(
            (s.tls, s.config.get_user()),
            (TlsMode::Require, Some("ignored"))
        );
        assert!(Settings::resolve("postgres://h/db?sslmode=maybe", &lookup).is_err());
    }
}
