//! Every server the integration tests use, found or started in one place: s3s-fs (S3), moto
//! (S3 with serialised conditional writes, SQS, Athena's API), kinesalite (Kinesis) and
//! PostgreSQL. tests/run.sh starts s3s-fs, kinesalite and moto (SQS) once for the whole run and
//! exports their endpoints (CDC_TEST_S3_ENDPOINT, CDC_TEST_KINESIS_ENDPOINT,
//! CDC_TEST_SQS_ENDPOINT); without them a test starts a private server here, on a free port of
//! 127.0.0.1, with a bounded lifetime (`timeout`, even if the test dies), stopped on drop.
//!
//! s3s-fs (crates.io) rather than moto for S3: moto 5.2.1 answers CompleteMultipartUpload with
//! an XML root the real SDK rejects. s3s-fs checks SigV4 signatures, so a wrong secret is
//! refused.

use super::s3::{ACCESS_KEY, SECRET_KEY};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `program` can be run: a path that exists, or a name found on `PATH`.
fn installed(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// `Ok` if `program` is installed, else why not (for [`require!`](super::require)).
pub fn tool(program: &str, install: &str) -> Result<(), String> {
    if installed(program) {
        Ok(())
    } else {
        Err(format!("{program} is not installed ({install})"))
    }
}

/// `program` under `timeout 900`: a bounded lifetime even if the test dies without stopping it.
fn timeout(program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["900", program]);
    c
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server process on 127.0.0.1, stopped on drop (or an address tests/run.sh gave).
pub struct Server {
    pub endpoint: String,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

/// The S3-compatible server (s3s-fs, or moto where a test needs it).
pub type S3Server = Server;

impl Server {
    /// The server tests/run.sh exported in `var`, if any.
    fn shared(var: &str) -> Option<Server> {
        std::env::var(var)
            .ok()
            .filter(|e| !e.is_empty())
            .map(|e| Server {
                endpoint: e,
                child: None,
                _data: None,
            })
    }

    /// Runs `cmd` (made by [`timeout`]) and waits until `port` accepts connections; `Err` if
    /// `program` is not installed.
    fn spawn(
        cmd: &mut Command,
        program: &str,
        what: &str,
        install: &str,
        port: u16,
        data: Option<tempfile::TempDir>,
    ) -> Result<Server, String> {
        tool(program, install)?;
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what} ({install}): {e}"));
        wait_for(port, what);
        Ok(Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            _data: data,
        })
    }

    /// S3: the shared server of tests/run.sh, or a private s3s-fs.
    pub fn shared_or_start() -> Result<Server, String> {
        match Server::shared("CDC_TEST_S3_ENDPOINT") {
            Some(s) => Ok(s),
            None => Server::start_on(free_port()),
        }
    }

    /// Starts s3s-fs on `port` over a fresh directory.
    pub fn start_on(port: u16) -> Result<Server, String> {
        let data = tempfile::tempdir().unwrap();
        let mut c = timeout("s3s-fs");
        c.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(data.path());
        let install = "tests/run.sh installs it: cargo install s3s-fs@0.14.1 --features binary";
        Server::spawn(&mut c, "s3s-fs", "s3s-fs", install, port, Some(data))
    }

    /// Starts a private moto server on a free port (S3 for the registry concurrency test:
    /// s3s-fs checks If-Match and then writes without a lock, so racing conditional writes can
    /// both pass; Athena's API for the runner test).
    pub fn start_moto() -> Result<Server, String> {
        let port = free_port();
        let moto = std::env::var("CDC_TEST_PYTHON")
            .ok()
            .map(|p| p.replace("/bin/python", "/bin/moto_server"))
            .filter(|p| Path::new(p).exists())
            .unwrap_or_else(|| "moto_server".into());
        let mut c = timeout(&moto);
        c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let install = "tests/run.sh installs it: pip install 'moto[server]'";
        Server::spawn(&mut c, &moto, "moto_server", install, port, None)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM reaches `timeout`, which forwards it to the server.
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kinesis: run.sh's kinesalite, or one started from `CDC_TEST_NODE_MODULES` (default
/// ~/.cache/cdc-sink/node/node_modules, where run.sh installs it from npm).
pub fn kinesalite() -> Result<Server, String> {
    if let Some(s) = Server::shared("CDC_TEST_KINESIS_ENDPOINT") {
        return Ok(s);
    }
    let modules = std::env::var("CDC_TEST_NODE_MODULES").unwrap_or_else(|_| {
        format!(
            "{}/.cache/cdc-sink/node/node_modules",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    if !Path::new(&modules).join("kinesalite").is_dir() {
        return Err(format!(
            "kinesalite is not installed in {modules} (tests/run.sh installs it from npm)"
        ));
    }
    let port = free_port();
    let mut c = timeout("node");
    c.arg(super::root().join("tests/servers/kinesalite.js"))
        .arg(port.to_string())
        .env("NODE_PATH", &modules);
    let install = "tests/run.sh installs kinesalite from npm";
    Server::spawn(&mut c, "node", "kinesalite", install, port, None)
}

/// SQS: run.sh's moto server, or one started here.
pub fn moto_sqs() -> Result<Server, String> {
    match Server::shared("CDC_TEST_SQS_ENDPOINT") {
        Some(s) => Ok(s),
        None => Server::start_moto(),
    }
}

/// A PostgreSQL server: external (`CDC_TEST_PG_URL`) or started here.
pub struct Pg {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// CA of the server's certificate, when this test made one.
    pub ca: Option<PathBuf>,
    /// Another CA, which must not be trusted for this server.
    pub other_ca: Option<PathBuf>,
    _own: Option<OwnServer>,
}

struct OwnServer {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    child: Child,
    as_postgres: bool,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let mut stop = postgres_cmd(self.as_postgres, &self.bin.join("pg_ctl"));
        stop.args(["-D"])
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]);
        let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the postgres user when we are root (the server refuses to run as root).
fn postgres_cmd(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it, plus an unrelated CA.
fn make_certs(dir: &Path) {
    let run = |args: &[&str]| sh(Command::new("openssl").args(args).current_dir(dir));
    for ca in ["ca", "other_ca"] {
        run(&[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-days",
            "2",
            "-subj",
            &format!("/CN=cdc-sink test {ca}"),
            "-keyout",
            &format!("{ca}.key"),
            "-out",
            &format!("{ca}.crt"),
        ]);
    }
    run(&[
        "req",
        "-new",
        "-nodes",
        "-newkey",
        "rsa:2048",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
}

/// PostgreSQL: `CDC_TEST_PG_URL` (a postgres:// URL; password in `PGPASSWORD`) if set,
/// otherwise one started here on 127.0.0.1 (PostgreSQL 15 from `/usr/lib/postgresql/15/bin`,
/// or `CDC_TEST_PG_BIN`), with a temporary data directory owned by the postgres user, password
/// authentication, TLS (a throwaway CA) and `wal_level=logical` (for the logical decoding
/// slots of tests/common/wal.rs), stopped on drop.
pub fn postgres() -> Result<Pg, String> {
    if let Ok(url) = std::env::var("CDC_TEST_PG_URL") {
        let s = cdc_sink::source::postgres::Settings::resolve(&url, &|k| std::env::var(k).ok())
            .unwrap();
        let host = match s.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".into(),
        };
        return Ok(Pg {
            host,
            port: s.config.get_ports().first().copied().unwrap_or(5432),
            user: s.config.get_user().unwrap_or("postgres").into(),
            password: std::env::var("PGPASSWORD").unwrap_or_default(),
            ca: std::env::var("CDC_TEST_PG_CA").ok().map(PathBuf::from),
            other_ca: None,
            _own: None,
        });
    }
    let bin = PathBuf::from(
        std::env::var("CDC_TEST_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into()),
    );
    if !bin.join("initdb").exists() {
        return Err(format!(
            "PostgreSQL 15 is not installed at {} (apt-get install postgresql-15, or set CDC_TEST_PG_URL / CDC_TEST_PG_BIN)",
            bin.display()
        ));
    }
    tool("openssl", "apt-get install openssl")?;
    let as_postgres = is_root();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    make_certs(&tls);
    let password = "cdc-sink-test-password";
    std::fs::write(dir.path().join("pw"), password).unwrap();
    if as_postgres {
        sh(Command::new("chmod").arg("755").arg(dir.path()));
        sh(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path()));
    }
    sh(Command::new("chmod").arg("600").arg(tls.join("server.key")));
    sh(postgres_cmd(as_postgres, &bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "scram-sha-256", "--pwfile"])
        .arg(dir.path().join("pw"))
        .args(["-E", "UTF8", "--locale", "C"]));
    let port = free_port();
    // In the foreground under `timeout`: the server's lifetime is bounded even if this test
    // dies without stopping it.
    let mut c = postgres_cmd(as_postgres, Path::new("timeout"));
    c.arg("900")
        .arg(bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&data)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "ssl=on"])
        // Logical decoding, for tests/common/wal.rs (test_decoding slots).
        .args(["-c", "wal_level=logical", "-c", "max_replication_slots=10"])
        .args(["-c", "max_wal_senders=10", "-c"])
        .arg(format!(
            "ssl_cert_file={}",
            tls.join("server.crt").display()
        ))
        .arg("-c")
        .arg(format!("ssl_key_file={}", tls.join("server.key").display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("server.log")).unwrap());
    let child = c.spawn().unwrap();
    let ca = Some(tls.join("ca.crt"));
    let other_ca = Some(tls.join("other_ca.crt"));
    Ok(Pg {
        host: "127.0.0.1".into(),
        port,
        user: "postgres".into(),
        password: password.into(),
        ca,
        other_ca,
        _own: Some(OwnServer {
            _dir: dir,
            data,
            bin,
            child,
            as_postgres,
        }),
    })
}

impl Pg {
    /// The `cdc-sink` binary with this server's password and none of the caller's libpq or
    /// layout variables (a test names what it wants).
    pub fn cdc_sink(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cdc-sink"));
        for v in [
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
            "CDC_FORMAT",
            "CDC_PARTITION",
            "CDC_OBJECTS",
        ] {
            c.env_remove(v);
        }
        c.env("PGPASSWORD", &self.password);
        c
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://{}@{}:{}/{db}", self.user, self.host, self.port)
    }

    /// A client of database `db`, waiting (up to 30 s) for the server to accept connections.
    pub async fn client(&self, db: &str) -> tokio_postgres::Client {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(db);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match cfg.connect(tokio_postgres::NoTls).await {
                Ok((client, conn)) => {
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    return client;
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!(
                    "PostgreSQL at {}:{} did not come up: {e}",
                    self.host, self.port
                ),
            }
        }
    }
}
