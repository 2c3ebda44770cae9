//! `cdc-sink schema show|set|infer`: the schema registry under `{prefix}/_schemas/`.

use super::{config_from_flags, open_sink, table_arg};
use crate::change::TableId;
use crate::config::env;
use crate::schema::registry::{apply_override, Registered};
use crate::schema::store::{MemoryStore, SchemaStore};
use crate::schema::sync::{list_registered, SchemaRegistry};
use crate::schema::{Column, ColumnType, TableSchema, TypeSource};
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
    Set {
        /// The table to override.
        #[arg(value_name = "SCHEMA.TABLE")]
        table: String,
        /// The override document.
        #[arg(long, value_name = "FILE.json")]
        file: PathBuf,
        /// The output location the schema belongs to: a directory, or s3://bucket/prefix.
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
            let (sink, prefix) = open_sink(&out).await?;
            let ids: Vec<TableId> = if tables.is_empty() {
                list_registered(&sink, &prefix)
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
            let reg = SchemaRegistry::new(&prefix, std::time::Duration::ZERO);
            let mut docs = Vec::new();
            for id in &ids {
                match reg.get(&sink, id).await.map_err(|e| e.to_string())? {
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
        SchemaCommand::Set { table, file, out } => {
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
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let wanted = TableSchema {
                columns,
                primary_key: o.primary_key,
            };
            let (sink, prefix) = open_sink(&out).await?;
            let reg = SchemaRegistry::new(&prefix, std::time::Duration::ZERO);
            for _ in 0..5 {
                let current = reg.get(&sink, &id).await.map_err(|e| e.to_string())?;
                let next = apply_override(current.as_ref(), &id, &wanted);
                if reg.publish(&sink, &next).await.map_err(|e| e.to_string())? {
                    println!("{}", pretty(&next));
                    return Ok(());
                }
            }
            Err(format!(
                "{id}: the schema kept changing under concurrent writers; try again"
            ))
        }
        SchemaCommand::Infer {
            events,
            before_image_key,
        } => {
            // Only the before-image key changes what is inferred; format and layout do not.
            let cfg = config_from_flags(&[(
                env::BEFORE_IMAGE_KEY,
                "--before-image-key",
                &before_image_key,
            )])?;
            let store = MemoryStore::default();
            let reg = SchemaRegistry::new("", std::time::Duration::ZERO);
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
            for key in store.list("_schemas/").await.map_err(|e| e.to_string())? {
                if let Some((bytes, _)) = store.get(&key).await.map_err(|e| e.to_string())? {
                    docs.push(Registered::from_json(&bytes)?);
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(())
        }
    }
}
