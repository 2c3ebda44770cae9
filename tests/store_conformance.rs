//! One conformance suite over every [`Store`]: the in-memory twin, a local directory, S3 (the
//! S3-compatible server the tests start), and each of them under a [`PrefixStore`]. What the
//! lake relies on is checked the same way everywhere: whole-object puts that replace, gets with
//! an ETag, conditional creates and replaces that refuse stale versions, sorted listings that
//! stay inside their prefix, folders, locations for messages, and deletes that may repeat.

use crate::common;

use bytes::Bytes;
use cdc_sink::store::local::LocalDir;
use cdc_sink::store::memory::MemoryStore;
use cdc_sink::store::s3::{S3Settings, S3Store};
use cdc_sink::store::{Precondition, PrefixStore, PutOutcome, Store};
use common::s3;

/// The suite; `name` says which store failed.
async fn conformance<S: Store>(name: &str, store: &S) {
    // Absent objects.
    assert_eq!(store.get("a/none.json").await.unwrap(), None, "{name}");
    assert!(store.list("a/").await.unwrap().is_empty(), "{name}");

    // Puts replace whole objects; gets return them with an ETag that changes with the content.
    store
        .put("a/b/x.parquet", Bytes::from_static(b"one"))
        .await
        .unwrap();
    let (body, etag1) = store.get("a/b/x.parquet").await.unwrap().unwrap();
    assert_eq!(body, b"one", "{name}");
    store
        .put("a/b/x.parquet", Bytes::from_static(b"two!"))
        .await
        .unwrap();
    let (body, etag2) = store.get("a/b/x.parquet").await.unwrap().unwrap();
    assert_eq!(body, b"two!", "{name}");
    assert_ne!(etag1, etag2, "{name}: the ETag follows the content");

    // Conditional writes: create only when absent; replace only the version read.
    let doc = "a/_schemas/s/t.json";
    let created = store
        .put_if(doc, Bytes::from_static(b"{\"v\":1}"), Precondition::Absent)
        .await
        .unwrap();
    let PutOutcome::Written { etag: v1 } = created else {
        panic!("{name}: the first create must win");
    };
    assert_eq!(
        store
            .put_if(doc, Bytes::from_static(b"{\"v\":9}"), Precondition::Absent)
            .await
            .unwrap(),
        PutOutcome::Conflict,
        "{name}: a second create loses"
    );
    let (_, read_etag) = store.get(doc).await.unwrap().unwrap();
    let replaced = store
        .put_if(
            doc,
            Bytes::from_static(b"{\"v\":2}"),
            Precondition::Match(read_etag),
        )
        .await
        .unwrap();
    assert!(
        matches!(replaced, PutOutcome::Written { .. }),
        "{name}: {replaced:?}"
    );
    assert_eq!(
        store
            .put_if(
                doc,
                Bytes::from_static(b"{\"v\":3}"),
                Precondition::Match(v1)
            )
            .await
            .unwrap(),
        PutOutcome::Conflict,
        "{name}: a replace of a stale version loses"
    );
    assert_eq!(
        store.get(doc).await.unwrap().unwrap().0,
        b"{\"v\":2}",
        "{name}"
    );

    // Listings: sorted, complete, with sizes, inside their prefix only.
    store
        .put("a/b/y.parquet", Bytes::from_static(b"y"))
        .await
        .unwrap();
    store
        .put("a/c/z.jsonl", Bytes::from_static(b"zz"))
        .await
        .unwrap();
    store
        .put("ab/outside", Bytes::from_static(b"o"))
        .await
        .unwrap();
    let listed: Vec<(String, u64)> = store
        .list("a/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(
        listed,
        [
            ("a/_schemas/s/t.json".to_string(), 7),
            ("a/b/x.parquet".to_string(), 4),
            ("a/b/y.parquet".to_string(), 1),
            ("a/c/z.jsonl".to_string(), 2),
        ],
        "{name}"
    );
    assert_eq!(
        store.list_folders("a/").await.unwrap(),
        ["a/_schemas/", "a/b/", "a/c/"],
        "{name}"
    );
    // Nothing was left half-written. (s3s-fs, the test server, does not implement
    // ListMultipartUploads; a server that cannot tell must say so, not answer "none".)
    match store.leftovers("a/").await {
        Ok(left) => assert!(left.is_empty(), "{name}: {left:?}"),
        Err(e) => assert!(e.message.contains("NotImplemented"), "{name}: {e}"),
    }
    assert!(
        store.location("a/b/x.parquet").ends_with("a/b/x.parquet"),
        "{name}"
    );

    // Deletes remove one object; deleting what is gone succeeds (a compactor's rerun).
    store.delete("a/b/y.parquet").await.unwrap();
    store.delete("a/b/y.parquet").await.unwrap();
    store.delete("a/never/was.parquet").await.unwrap();
    assert_eq!(store.get("a/b/y.parquet").await.unwrap(), None, "{name}");
    let left: Vec<String> = store
        .list("a/b/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(
        left,
        ["a/b/x.parquet"],
        "{name}: only the deleted object went"
    );
}

#[tokio::test]
async fn memory() {
    conformance("memory", &MemoryStore::default()).await;
    conformance(
        "memory under a prefix",
        &PrefixStore::new(MemoryStore::default(), "cdc/x"),
    )
    .await;
}

#[tokio::test]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    conformance("local", &LocalDir::new(dir.path())).await;
    let dir = tempfile::tempdir().unwrap();
    let store = PrefixStore::new(LocalDir::new(dir.path()), "cdc");
    conformance("local under a prefix", &store).await;
    assert!(
        dir.path().join("cdc/a/b/x.parquet").is_file(),
        "the prefix is a folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3() {
    let server = common::require!(common::servers::S3Server::shared_or_start());
    let c = s3::client(&server.endpoint);
    let bucket = s3::unique_bucket("conformance");
    s3::create_bucket(&c, &bucket).await;
    let store = S3Store::from_client(c.clone(), &S3Settings::new(&bucket));
    conformance("s3", &store).await;
    let bucket = s3::unique_bucket("conformance-prefix");
    s3::create_bucket(&c, &bucket).await;
    let store = PrefixStore::new(
        S3Store::from_client(c.clone(), &S3Settings::new(&bucket)),
        "cdc",
    );
    conformance("s3 under a prefix", &store).await;
    assert!(s3::list(&c, &bucket, "")
        .await
        .iter()
        .all(|k| k.starts_with("cdc/")));
}
