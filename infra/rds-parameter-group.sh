#!/usr/bin/env bash
# Turn on logical replication on an RDS for PostgreSQL instance, so that AWS DMS can capture
# changes (CDC). Sets rds.logical_replication = 1 (wal_level becomes "logical"); the parameter is
# static, so it takes effect only after a reboot.
#
# Usage (review the variables first; nothing is rebooted unless REBOOT=yes):
#   DB_INSTANCE=mydb PARAMETER_GROUP=cdc-postgres16 FAMILY=postgres16 ./rds-parameter-group.sh
#   REBOOT=yes DB_INSTANCE=mydb PARAMETER_GROUP=cdc-postgres16 FAMILY=postgres16 ./rds-parameter-group.sh
#
# FAMILY must match the instance's engine major version:
#   aws rds describe-db-instances --db-instance-identifier "$DB_INSTANCE" \
#     --query 'DBInstances[0].[EngineVersion,DBParameterGroups[0].DBParameterGroupName]'
# An instance on a default.* group needs a custom group: default groups cannot be modified.
# Aurora PostgreSQL uses a DB *cluster* parameter group instead
# (aws rds modify-db-cluster-parameter-group, same parameter).
set -euo pipefail

: "${DB_INSTANCE:?set DB_INSTANCE to the RDS instance identifier}"
: "${PARAMETER_GROUP:?set PARAMETER_GROUP to a custom parameter group name}"
: "${FAMILY:?set FAMILY, e.g. postgres16}"
REBOOT="${REBOOT:-no}"

# 1. A custom parameter group (skipped if it exists already).
if ! aws rds describe-db-parameter-groups --db-parameter-group-name "$PARAMETER_GROUP" >/dev/null 2>&1; then
  aws rds create-db-parameter-group \
    --db-parameter-group-name "$PARAMETER_GROUP" \
    --db-parameter-group-family "$FAMILY" \
    --description "PostgreSQL with logical replication for AWS DMS CDC (cdc-sink)"
fi

# 2. The setting itself.
aws rds modify-db-parameter-group \
  --db-parameter-group-name "$PARAMETER_GROUP" \
  --parameters "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"

# 3. Attach the group to the instance (no-op if already attached).
aws rds modify-db-instance \
  --db-instance-identifier "$DB_INSTANCE" \
  --db-parameter-group-name "$PARAMETER_GROUP" \
  --apply-immediately >/dev/null

aws rds wait db-instance-available --db-instance-identifier "$DB_INSTANCE"

# 4. Reboot: a short outage (longer on Single-AZ), so only when asked.
if [ "$REBOOT" = "yes" ]; then
  aws rds reboot-db-instance --db-instance-identifier "$DB_INSTANCE" >/dev/null
  aws rds wait db-instance-available --db-instance-identifier "$DB_INSTANCE"
else
  echo "Parameter set (pending-reboot). Reboot $DB_INSTANCE in a maintenance window, or rerun with REBOOT=yes."
fi

# 5. Check: ParameterApplyStatus should be in-sync after the reboot, and in psql
#    SHOW wal_level;  -- logical
aws rds describe-db-instances --db-instance-identifier "$DB_INSTANCE" \
  --query 'DBInstances[0].DBParameterGroups' --output table
