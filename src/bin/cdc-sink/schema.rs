//! `cdc-sink schema show|set|import|infer`: the schema registry under `{prefix}/_schemas/`.

use crate::common::{open_for_read, table_arg};
use cdc_sink::ingest::registry::{list_registered, update, RegistryError, SchemaRegistry, Updated};
use cdc_sink::model::change::TableId;
use cdc_sink::schema::registry::{accept_pending, apply_override, Accepted, Registered};
use cdc_sink::schema::{Column, ColumnType, TableSchema, TypeSource};
use cdc_sink::store::memory::MemoryStore;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Print registered schemas as JSON: every table, or the SCHEMA.TABLE names given.
    Show {
        /// The output location the schemas belong to: a directory, or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
        /// Tables to show (default: every registered table).
        #[arg(value_name = "SCHEMA.TABLE")]
        tables: Vec<String>,
    },
    /// Override a table's column types (and primary key) from a JSON file, even where the change
    /// is incompatible with files already written: {"columns": [{"name": "total", "type":
    /// "decimal(10,2)", "nullable": true}], "primary_key": ["id"]}. Types: boolean, int, bigint,
    /// double, decimal(p,s), date, timestamp, string, binary.
    ///
    /// With --accept-pending instead of --file, applies the types a catalog import or a DMS
    /// table-def declared but that were kept pending (files already written keep their old
    /// types: the command says how to rewrite them).
    Set {
        /// The table to override.
        #[arg(value_name = "SCHEMA.TABLE")]
        table: String,
        /// The override document.
        #[arg(
            long,
            value_name = "FILE.json",
            required_unless_present = "accept_pending",
            conflicts_with = "accept_pending"
        )]
        file: Option<PathBuf>,
        /// Apply the table's pending declared types (see `schema show`).
        #[arg(long)]
        accept_pending: bool,
        /// The output location the schema belongs to: a directory, or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
    },
    /// Register tables' declared schemas from the source database's catalog (PostgreSQL):
    /// columns in order, types with precision and scale, nullability and primary keys. Ranked
    /// below an override and above the DMS table-def; re-running applies compatible changes
    /// and records incompatible ones as pending. The password comes from PGPASSWORD (or the
    /// URL); PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE and PGSSLROOTCERT fill what the URL
    /// leaves out.
    Import {
        /// postgres://USER@HOST:PORT/DB[?sslmode=verify-full&sslrootcert=CA.pem]
        #[arg(long, value_name = "postgres://USER@HOST:PORT/DB")]
        source: String,
        /// Only tables of this schema (repeatable; default: every schema but PostgreSQL's own).
        #[arg(long = "schema", value_name = "SCHEMA")]
        schemas: Vec<String>,
        /// Only this table (repeatable).
        #[arg(long = "table", value_name = "SCHEMA.TABLE")]
        tables: Vec<String>,
        /// The lake the schemas belong to: a directory, or s3://bucket/prefix.
        #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
        out: String,
    },
    /// Infer schemas from Lambda Kinesis event files, as the pipeline would register them on an
    /// empty registry, and print them. Nothing is written.
    Infer {
        /// Lambda Kinesis event files (JSON: {"Records": [...]}), read in order.
        #[arg(required = true, value_name = "EVENT.json")]
        events: Vec<PathBuf>,
        /// Top-level key of the before-image in DMS messages (the task's
        /// BeforeImageSettings.FieldName) [default: before-image] [env: CDC_BEFORE_IMAGE_KEY]
        #[arg(long, value_name = "KEY")]
        before_image_key: Option<String>,
    },
}

/// What `--accept-pending` changed, and what that means for files already written.
fn accept_warning(id: &TableId, out: &str, changed: &[Accepted]) -> String {
    let cols: Vec<String> = changed
        .iter()
        .map(|a| format!("{} {} -> {}", a.column, a.from, a.to))
        .collect();
    format!(
        "warning: {id}: applied {}. Files already written keep their old types, and Athena \
         fails on them (HIVE_BAD_DATA) under the new ones. Rewrite them by replaying the same \
         events into the same lake (`cdc-sink replay EVENT.json ... --out {out}`): the keys are \
         the same, so every object is overwritten with the new types. Where the events are no \
         longer at hand, query only partitions written after this change.",
        cols.join(", ")
    )
}

fn pretty(doc: &Registered) -> String {
    serde_json::to_string_pretty(doc).unwrap_or_default()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFile {
    columns: Vec<OverrideColumn>,
    #[serde(default)]
    primary_key: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default = "yes")]
    nullable: bool,
}

fn yes() -> bool {
    true
}

pub async fn run(cmd: SchemaCommand) -> Result<(), String> {
    match cmd {
        SchemaCommand::Show { out, tables } => {
            let lake = open_for_read(&out).await?;
            let sink = lake.store();
            let ids: Vec<TableId> = if tables.is_empty() {
                list_registered(sink)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(Registered::id)
                    .collect()
            } else {
                tables
                    .iter()
                    .map(|t| table_arg(t))
                    .collect::<Result<_, _>>()?
            };
            if ids.is_empty() {
                return Err(format!("no schemas registered under {out}"));
            }
            let reg = SchemaRegistry::new(std::time::Duration::ZERO);
            let mut docs = Vec::new();
            for id in &ids {
                match reg.get(sink, id).await.map_err(|e| e.to_string())? {
                    Some(d) => docs.push(d),
                    None => return Err(format!("no schema registered for {id} under {out}")),
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(())
        }
        SchemaCommand::Set {
            table,
            file: None,
            accept_pending: true,
            out,
        } => {
            let id = table_arg(&table)?;
            let lake = open_for_read(&out).await?;
            let sink = lake.store();
            let reg = SchemaRegistry::new(std::time::Duration::ZERO);
            // `accept_pending` says what changed; the update keeps the last answer for the warning.
            let mut changed = None;
            let outcome = update(&reg, sink, &id, |current| {
                let Some(current) = current else {
                    return Err(RegistryError::Refused(format!(
                        "no schema registered for {id} under {out}"
                    )));
                };
                Ok(accept_pending(current).map(|(next, c)| {
                    changed = Some(c);
                    next
                }))
            })
            .await;
            match outcome.map_err(|e| e.to_string())? {
                Updated::Published(next) => {
                    println!("{}", pretty(&next));
                    if let Some(changed) = &changed {
                        eprintln!("{}", accept_warning(&id, &out, changed));
                    }
                }
                Updated::Unchanged(current) => {
                    eprintln!("{id}: nothing is pending; the registered schema is unchanged");
                    if let Some(current) = current {
                        println!("{}", pretty(&current));
                    }
                }
            }
            Ok(())
        }
        SchemaCommand::Set {
            table, file, out, ..
        } => {
            let file = file.ok_or("give --file FILE.json or --accept-pending")?;
            let id = table_arg(&table)?;
            let text =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let o: OverrideFile =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let columns = o
                .columns
                .into_iter()
                .map(|c| {
                    let ty: ColumnType =
                        c.ty.parse()
                            .map_err(|e| format!("{}: column {}: {e}", file.display(), c.name))?;
                    Ok(Column {
                        name: c.name,
                        ty,
                        nullable: c.nullable,
                        source: TypeSource::Override,
                        renamed_from: None,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let wanted = TableSchema {
                columns,
                primary_key: o.primary_key,
            };
            let lake = open_for_read(&out).await?;
            let sink = lake.store();
            let reg = SchemaRegistry::new(std::time::Duration::ZERO);
            let change =
                |current: Option<&Registered>| Ok(Some(apply_override(current, &id, &wanted)));
            match update(&reg, sink, &id, change)
                .await
                .map_err(|e| e.to_string())?
            {
                Updated::Published(next) | Updated::Unchanged(Some(next)) => {
                    println!("{}", pretty(&next));
                }
                Updated::Unchanged(None) => {}
            }
            Ok(())
        }
        SchemaCommand::Import {
            source,
            schemas,
            tables,
            out,
        } => {
            use cdc_sink::source::postgres;
            let tables = tables
                .iter()
                .map(|t| table_arg(t))
                .collect::<Result<Vec<_>, _>>()?;
            let settings = postgres::Settings::resolve(&source, &|k| std::env::var(k).ok())
                .map_err(|e| e.to_string())?;
            if settings.password_in_url {
                eprintln!("note: the password in --source is visible to other users of this machine; PGPASSWORD is the better place for it");
            }
            let client = postgres::connect(&settings)
                .await
                .map_err(|e| e.to_string())?;
            let sel = postgres::Selection { schemas, tables };
            let catalog = postgres::read_catalog(&client, &sel)
                .await
                .map_err(|e| e.to_string())?;
            if catalog.is_empty() {
                return Err(format!(
                    "no tables found in {} for the given --schema / --table",
                    settings.target()
                ));
            }
            let lake = open_for_read(&out).await?;
            let sink = lake.store();
            let imported = cdc_sink::source::register(sink, &catalog)
                .await
                .map_err(|e| e.to_string())?;
            for t in &catalog {
                for note in &t.notes {
                    eprintln!("  note: {note}");
                }
            }
            for i in &imported {
                let cols: Vec<String> = i
                    .doc
                    .columns
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.ty))
                    .collect();
                let state = if i.changes.is_empty() {
                    "unchanged".to_string()
                } else {
                    format!("v{}", i.doc.version)
                };
                println!("{} ({state}): {}", i.id, cols.join(", "));
                for change in &i.changes {
                    eprintln!("  schema: {change}");
                }
                if !i.doc.pending.is_empty() {
                    eprintln!(
                        "  {} pending conflict(s): see `cdc-sink schema show --out {out} {}`, apply with `cdc-sink schema set {} --accept-pending --out {out}`",
                        i.doc.pending.len(),
                        i.id,
                        i.id
                    );
                }
            }
            Ok(())
        }
        SchemaCommand::Infer {
            events,
            before_image_key,
        } => {
            // Only the before-image key changes what is inferred; format and layout do not.
            let cfg = crate::common::config_from_flags(&[(
                cdc_sink::config::env::BEFORE_IMAGE_KEY,
                "--before-image-key",
                &before_image_key,
            )])?;
            let store = MemoryStore::default();
            let reg = SchemaRegistry::new(std::time::Duration::ZERO);
            for path in &events {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let (_, report) = reg
                    .build(&store, &bytes, &cfg)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                for note in &report.notes {
                    eprintln!("  {note}");
                }
            }
            let mut docs = Vec::new();
            for doc in list_registered(&store).await.map_err(|e| e.to_string())? {
                docs.push(doc);
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(())
        }
    }
}
