//! The schema registry document, `{prefix}/_schemas/{schema}/{table}.json`, and the pure rules
//! that evolve it. Athena ignores the `_schemas` folder.
//!
//! A registered type only changes in a way Athena can read old files under (INT to BIGINT).
//! A more trusted source that disagrees otherwise (a table-def arriving after inference) is
//! recorded under `pending` and reported; `cdc-sink schema set` applies it on purpose.

use super::{Column, ColumnType, TableSchema, TypeSource};
use crate::lake::lineage::{column_name, same_column_name};
use crate::model::change::TableId;
use serde::{Deserialize, Serialize};

/// History entries kept in the document.
const HISTORY: usize = 50;

/// One column of a registered schema, as the registry document stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredColumn {
    /// The column's name in the lake (Parquet field, JSON key, Athena column).
    pub name: String,
    /// Athena spelling, e.g. `decimal(10,2)`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether the column may hold NULL, as declared (true when inferred or not stated).
    pub nullable: bool,
    /// Where the registered type came from.
    pub source: TypeSource,
    /// The DMS field name when the column is written under another name (see
    /// [`crate::lake::lineage::column_name`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<String>,
}

impl RegisteredColumn {
    /// The DMS field name. Documents written before `renamed_from` existed held a renamed
    /// lineage or partition name only as `src_<name>`.
    pub fn source_name(&self) -> &str {
        match &self.renamed_from {
            Some(n) => n,
            None => match self.name.strip_prefix("src_") {
                Some(orig) if crate::lake::lineage::is_reserved_name(orig) => orig,
                _ => &self.name,
            },
        }
    }
}

/// A type a more trusted source declared but that was not applied (it would break old files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The column the declaration is about (its lake name).
    pub column: String,
    /// The declared type, in Athena spelling.
    #[serde(rename = "type")]
    pub ty: String,
    /// Who declared it.
    pub source: TypeSource,
    /// The type registered at the time, which old files hold.
    pub registered: String,
}

/// One change of the registered schema, kept in the document's history (the last 50).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The version the change produced.
    pub version: u64,
    /// What changed, one sentence per column or key change.
    pub changes: Vec<String>,
}

/// One table's registered schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    /// Source schema (PostgreSQL namespace).
    pub schema: String,
    /// Source table name.
    pub table: String,
    /// Increases by one with every change.
    pub version: u64,
    /// Primary key column names, in key order; empty when the table has none or it is unknown.
    #[serde(default)]
    pub primary_key: Vec<String>,
    /// The columns, in registration order (new columns are appended).
    pub columns: Vec<RegisteredColumn>,
    /// Declared types not applied (see [`Pending`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// The newest changes, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

impl Registered {
    /// Version 0 of `t`'s schema: no columns, no key, no history.
    pub fn empty(t: &TableId) -> Registered {
        Registered {
            schema: t.schema.clone(),
            table: t.table.clone(),
            version: 0,
            primary_key: Vec::new(),
            columns: Vec::new(),
            pending: Vec::new(),
            history: Vec::new(),
        }
    }

    /// The table the document is about.
    pub fn id(&self) -> TableId {
        TableId::new(&self.schema, &self.table)
    }

    /// Parses a stored document.
    pub fn from_json(bytes: &[u8]) -> Result<Registered, String> {
        let r: Registered = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        r.to_schema()?;
        Ok(r)
    }

    /// The stored form: one line of JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The schema the pipeline writes with.
    pub fn to_schema(&self) -> Result<TableSchema, String> {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let ty: ColumnType =
                    c.ty.parse()
                        .map_err(|e| format!("column {}: {e}", c.name))?;
                let source_name = c.source_name();
                Ok(Column {
                    name: c.name.clone(),
                    ty,
                    nullable: c.nullable,
                    source: c.source,
                    renamed_from: (source_name != c.name).then(|| source_name.to_string()),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(TableSchema {
            columns,
            primary_key: self.primary_key.clone(),
        })
    }

    fn column_mut(&mut self, name: &str) -> Option<&mut RegisteredColumn> {
        self.columns.iter_mut().find(|c| c.name == name)
    }

    /// The registered column DMS calls `source_name`.
    fn by_source_mut(&mut self, source_name: &str) -> Option<&mut RegisteredColumn> {
        self.columns
            .iter_mut()
            .find(|c| c.source_name() == source_name)
    }

    /// Registers a new column under the name [`column_name`] gives it among this table's
    /// names; returns that name.
    fn add_column(&mut self, c: &Column, source: TypeSource) -> String {
        let src = c.source_name();
        let name = column_name(src, |n| {
            self.columns.iter().any(|rc| same_column_name(&rc.name, n))
        });
        let mut rc = reg_column(c, source);
        rc.renamed_from = (name != src).then(|| src.to_string());
        rc.name = name.clone();
        self.columns.push(rc);
        name
    }

    /// Primary-key names as DMS gives them, in the lake's column names.
    fn key_names(&self, source_names: &[String]) -> Vec<String> {
        source_names
            .iter()
            .map(|k| {
                self.columns
                    .iter()
                    .find(|c| c.source_name() == k)
                    .map_or_else(|| k.clone(), |c| c.name.clone())
            })
            .collect()
    }

    fn bump(&mut self, changes: Vec<String>) {
        self.version += 1;
        self.history.push(History {
            version: self.version,
            changes,
        });
        let excess = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..excess);
    }
}

fn reg_column(c: &Column, source: TypeSource) -> RegisteredColumn {
    RegisteredColumn {
        name: c.name.clone(),
        ty: c.ty.athena(),
        nullable: c.nullable,
        source,
        renamed_from: c.renamed_from.clone(),
    }
}

/// "x" or "x (DMS name "X")" for history entries.
fn described(name: &str, source_name: &str) -> String {
    if name == source_name {
        name.to_string()
    } else {
        format!("{name} (DMS name {source_name:?}, renamed: the name clashes)")
    }
}

/// The next version of a table's registry entry after a batch, or `None` if nothing changes.
/// `defs` are declared schemas (table-defs seen in the batch, or a catalog import; each column's
/// `source` says which); `observed` is what the batch wrote (registered columns with their
/// registered types, plus newly inferred ones).
///
/// A declaration never overrides a more trusted source's type; an equally or more trusted one
/// applies when the change is one Athena reads old files under, and is recorded as pending
/// otherwise.
pub fn evolve(
    current: Option<&Registered>,
    t: &TableId,
    defs: &[&TableSchema],
    observed: Option<&TableSchema>,
) -> Option<Registered> {
    let mut reg = current.cloned().unwrap_or_else(|| Registered::empty(t));
    let mut changes = Vec::new();
    for def in defs {
        let mut def_source = TypeSource::TableDef;
        for c in &def.columns {
            def_source = c.source;
            let label = c.source.label();
            let Some(rc) = reg.by_source_mut(c.source_name()) else {
                let name = reg.add_column(c, c.source);
                changes.push(format!(
                    "added column {} {} ({label})",
                    described(&name, c.source_name()),
                    c.ty
                ));
                continue;
            };
            let registered: Option<ColumnType> = rc.ty.parse().ok();
            if rc.source.rank() < c.source.rank() {
                continue;
            }
            if registered == Some(c.ty) {
                if rc.source != c.source {
                    rc.source = c.source;
                    changes.push(format!("column {} {} confirmed by {label}", rc.name, c.ty));
                }
                if rc.nullable != c.nullable && c.source == TypeSource::Catalog {
                    rc.nullable = c.nullable;
                    changes.push(format!(
                        "column {} {} ({label})",
                        rc.name,
                        if c.nullable { "nullable" } else { "not null" }
                    ));
                }
            } else if registered.is_some_and(|r| r.widens_to(c.ty)) {
                changes.push(format!(
                    "widened column {} from {} to {} ({label})",
                    rc.name, rc.ty, c.ty
                ));
                rc.ty = c.ty.athena();
                rc.source = c.source;
            } else {
                let p = Pending {
                    column: rc.name.clone(),
                    ty: c.ty.athena(),
                    source: c.source,
                    registered: rc.ty.clone(),
                };
                if !reg.pending.contains(&p) {
                    changes.push(format!(
                        "{label} declares column {} as {} but it is registered as {}: not applied (old files would become unreadable); apply with `cdc-sink schema set {t} --accept-pending`",
                        p.column, c.ty, p.registered
                    ));
                    reg.pending.push(p);
                }
            }
        }
        let pk_label = def_source.label();
        // Declared keys name DMS (or catalog) columns; the registry keeps the lake's names.
        let key = reg.key_names(&def.primary_key);
        if !key.is_empty() && key != reg.primary_key {
            if reg.primary_key.is_empty() {
                changes.push(format!("primary key ({}) from {pk_label}", key.join(", ")));
                reg.primary_key = key;
            } else if def_source == TypeSource::Catalog {
                changes.push(format!(
                    "primary key ({}) -> ({}) from {pk_label}",
                    reg.primary_key.join(", "),
                    key.join(", ")
                ));
                reg.primary_key = key;
            }
        }
    }
    if let Some(obs) = observed {
        for c in &obs.columns {
            if reg.by_source_mut(c.source_name()).is_none() {
                let name = reg.add_column(c, c.source);
                changes.push(format!(
                    "added column {} {} (inferred from values)",
                    described(&name, c.source_name()),
                    c.ty
                ));
            }
        }
    }
    if changes.is_empty() {
        return None;
    }
    reg.bump(changes);
    Some(reg)
}

/// Applies a user's override: the given columns take the given types (even incompatible ones),
/// pending entries for them are cleared, and a non-empty primary key replaces the registered one.
pub fn apply_override(current: Option<&Registered>, t: &TableId, o: &TableSchema) -> Registered {
    let mut reg = current.cloned().unwrap_or_else(|| Registered::empty(t));
    let mut changes = Vec::new();
    for c in &o.columns {
        // The override names a column by its lake name, or by its DMS name.
        let at = reg
            .columns
            .iter()
            .position(|rc| rc.name == c.name)
            .or_else(|| reg.columns.iter().position(|rc| rc.source_name() == c.name));
        let name = match at {
            Some(i) => {
                let rc = &mut reg.columns[i];
                changes.push(format!(
                    "override: column {} {} -> {}",
                    rc.name, rc.ty, c.ty
                ));
                rc.ty = c.ty.athena();
                rc.nullable = c.nullable;
                rc.source = TypeSource::Override;
                rc.name.clone()
            }
            None => {
                let name = reg.add_column(c, TypeSource::Override);
                changes.push(format!(
                    "override: added column {} {}",
                    described(&name, c.source_name()),
                    c.ty
                ));
                name
            }
        };
        reg.pending.retain(|p| p.column != name);
    }
    let key = reg.key_names(&o.primary_key);
    if !key.is_empty() && key != reg.primary_key {
        changes.push(format!("override: primary key ({})", key.join(", ")));
        reg.primary_key = key;
    }
    if changes.is_empty() {
        changes.push("override: no change".into());
    }
    reg.bump(changes);
    reg
}

/// A column whose type `schema set --accept-pending` changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The column's lake name.
    pub column: String,
    /// The type files already written hold.
    pub from: String,
    /// The type it has now.
    pub to: String,
}

/// Applies every pending declaration (the most trusted one per column), on purpose: the
/// columns take the declared types even where files already written hold another type.
/// Returns the new version and the columns changed, or `None` when nothing is pending.
pub fn accept_pending(current: &Registered) -> Option<(Registered, Vec<Accepted>)> {
    if current.pending.is_empty() {
        return None;
    }
    let mut reg = current.clone();
    let mut pending = std::mem::take(&mut reg.pending);
    pending.sort_by_key(|p| p.source.rank());
    let mut changes = Vec::new();
    let mut changed = Vec::new();
    for p in pending {
        if changed.iter().any(|a: &Accepted| a.column == p.column) {
            continue;
        }
        let Some(rc) = reg.column_mut(&p.column) else {
            continue;
        };
        changes.push(format!(
            "accepted pending: column {} {} -> {} ({})",
            p.column,
            rc.ty,
            p.ty,
            p.source.label()
        ));
        changed.push(Accepted {
            column: p.column.clone(),
            from: rc.ty.clone(),
            to: p.ty.clone(),
        });
        rc.ty = p.ty;
        rc.source = p.source;
    }
    reg.bump(changes);
    Some((reg, changed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[(&str, ColumnType, TypeSource)]) -> TableSchema {
        TableSchema {
            columns: cols
                .iter()
                .map(|(n, ty, s)| Column {
                    name: n.to_string(),
                    ty: *ty,
                    nullable: true,
                    source: *s,
                    renamed_from: None,
                })
                .collect(),
            primary_key: vec![],
        }
    }

    #[test]
    fn clashing_names_are_renamed_once_and_remembered() {
        let t = TableId::new("public", "t");
        let mut def = schema(&[
            ("id", ColumnType::Int64, TypeSource::TableDef),
            ("ID", ColumnType::String, TypeSource::TableDef),
            ("cdc_op", ColumnType::String, TypeSource::TableDef),
            ("dt", ColumnType::Date, TypeSource::TableDef),
        ]);
        def.primary_key = vec!["ID".into()];
        // What a batch built before the table-def was registered observed: `cdc_op` inferred.
        let mut observed = schema(&[("src_cdc_op", ColumnType::String, TypeSource::Inferred)]);
        observed.columns[0].renamed_from = Some("cdc_op".into());
        let v1 = evolve(None, &t, &[&def], Some(&observed)).unwrap();
        let names: Vec<(&str, &str, Option<&str>)> = v1
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.ty.as_str(), c.renamed_from.as_deref()))
            .collect();
        let upper = format!("ID_{:08x}", {
            "ID".bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
            }) as u32
        });
        assert_eq!(
            names,
            [
                ("id", "bigint", None),
                (upper.as_str(), "string", Some("ID")),
                ("src_cdc_op", "string", Some("cdc_op")),
                ("src_dt", "date", Some("dt")),
            ]
        );
        assert_eq!(
            v1.primary_key,
            std::slice::from_ref(&upper),
            "keys use the new names"
        );
        let s = v1.to_schema().unwrap();
        assert_eq!(s.column_by_source("ID").unwrap().name, upper);
        assert!(
            evolve(Some(&v1), &t, &[&def], Some(&s)).is_none(),
            "the same names again: nothing changes"
        );
        // Documents written before `renamed_from` existed: `src_<lineage name>` came from it.
        let legacy = Registered::from_json(
            br#"{"schema":"public","table":"t","version":1,"columns":[{"name":"src_cdc_op","type":"string","nullable":true,"source":"inferred"},{"name":"src_note","type":"string","nullable":true,"source":"inferred"}]}"#,
        )
        .unwrap();
        assert_eq!(legacy.columns[0].source_name(), "cdc_op");
        assert_eq!(legacy.columns[1].source_name(), "src_note");
        assert!(!String::from_utf8(legacy.to_json())
            .unwrap()
            .contains("renamed_from"));
    }

    #[test]
    fn adds_columns_and_never_flips_types() {
        let t = TableId::new("public", "orders");
        let v1 = evolve(
            None,
            &t,
            &[],
            Some(&schema(&[(
                "id",
                ColumnType::Float64,
                TypeSource::Inferred,
            )])),
        )
        .unwrap();
        assert_eq!((v1.version, v1.columns[0].ty.as_str()), (1, "double"));
        assert!(
            evolve(Some(&v1), &t, &[], Some(&v1.to_schema().unwrap())).is_none(),
            "nothing new, no version"
        );
        // A table-def arriving after inference: recorded, not applied.
        let mut def = schema(&[
            ("id", ColumnType::Int32, TypeSource::TableDef),
            ("note", ColumnType::String, TypeSource::TableDef),
        ]);
        def.primary_key = vec!["id".into()];
        let v2 = evolve(Some(&v1), &t, &[&def], None).unwrap();
        assert_eq!(v2.columns[0].ty, "double");
        assert_eq!(v2.columns[1].ty, "string");
        assert_eq!(v2.pending.len(), 1);
        assert_eq!(v2.primary_key, ["id"]);
        assert!(
            evolve(Some(&v2), &t, &[&def], None).is_none(),
            "the same conflict is recorded once"
        );
        // INT to BIGINT widens.
        let v3 = evolve(
            Some(&v2),
            &t,
            &[&schema(&[("n", ColumnType::Int32, TypeSource::TableDef)])],
            None,
        )
        .unwrap();
        let v4 = evolve(
            Some(&v3),
            &t,
            &[&schema(&[("n", ColumnType::Int64, TypeSource::TableDef)])],
            None,
        )
        .unwrap();
        assert_eq!(v4.columns[2].ty, "bigint");
        // The override applies the pending type on purpose.
        let v5 = apply_override(
            Some(&v4),
            &t,
            &schema(&[("id", ColumnType::Int32, TypeSource::Override)]),
        );
        assert_eq!(
            (
                v5.columns[0].ty.as_str(),
                v5.columns[0].source,
                v5.pending.len()
            ),
            ("int", TypeSource::Override, 0)
        );
        assert_eq!(v5.version, 5);
        let round = Registered::from_json(&v5.to_json()).unwrap();
        assert_eq!(round, v5);
    }

    #[test]
    fn catalog_outranks_table_defs_and_pending_can_be_accepted() {
        let t = TableId::new("public", "orders");
        let mut catalog = schema(&[
            ("id", ColumnType::Int32, TypeSource::Catalog),
            (
                "total",
                ColumnType::Decimal {
                    precision: 10,
                    scale: 2,
                },
                TypeSource::Catalog,
            ),
        ]);
        catalog.primary_key = vec!["id".into()];
        let v1 = evolve(None, &t, &[&catalog], None).unwrap();
        assert_eq!(v1.columns[0].source, TypeSource::Catalog);
        assert_eq!(v1.primary_key, ["id"]);
        // A table-def disagreeing with the catalog changes nothing.
        let def = schema(&[("total", ColumnType::String, TypeSource::TableDef)]);
        assert!(evolve(Some(&v1), &t, &[&def], None).is_none());
        // Re-importing the same catalog changes nothing; a widening applies; an
        // incompatible change is pending.
        assert!(evolve(Some(&v1), &t, &[&catalog], None).is_none());
        let wider = schema(&[
            ("id", ColumnType::Int64, TypeSource::Catalog),
            ("total", ColumnType::Float64, TypeSource::Catalog),
        ]);
        let v2 = evolve(Some(&v1), &t, &[&wider], None).unwrap();
        assert_eq!(v2.columns[0].ty, "bigint");
        assert_eq!(v2.columns[1].ty, "decimal(10,2)");
        assert_eq!(v2.pending.len(), 1);
        let (v3, changed) = accept_pending(&v2).unwrap();
        assert_eq!(
            changed,
            [Accepted {
                column: "total".into(),
                from: "decimal(10,2)".into(),
                to: "double".into()
            }]
        );
        assert_eq!((v3.columns[1].ty.as_str(), v3.pending.len()), ("double", 0));
        assert_eq!(v3.version, v2.version + 1);
        assert!(accept_pending(&v3).is_none());
    }
}
