"""Cost per million changes, from the bench's measured figures and published prices.

Usage: python cost.py   (edit MEASURED below with the figures of a bench run)

Prices: US East (N. Virginia), on-demand, first tier, as listed in BENCHMARKS.md with their
source and date. Lambda bills memory x duration; below 1,769 MB a function gets that share of
one vCPU, so CPU-bound time stretches by 1,769 / memory and its GB-seconds stay the same.
"""

LAMBDA_ARM_GB_S = 0.0000133334   # $ per GB-second, arm64
LAMBDA_REQUEST = 0.20 / 1e6      # $ per invocation
S3_PUT = 0.005 / 1000            # $ per PUT (S3 Standard)
FIREHOSE_INGEST_GB = 0.029       # $ per GB ingested, records rounded up to 5 KB
FIREHOSE_CONVERT_GB = 0.018      # $ per GB converted to Parquet, same rounding
FULL_VCPU_MB = 1769

# tables: (records per event, PUTs per event, CPU seconds per event on one vCPU,
#          Python handler CPU seconds per event, Python peak RSS MB, DMS message bytes)
MEASURED = {}
# Assumed: S3 PUT latency from Lambda, per request, at the pipeline's 16 concurrent writes.
S3_PUT_LATENCY_S = 0.030
WRITE_CONCURRENCY = 16


def lambda_cost(records, puts, cpu_s, memory_mb):
    """$ per million changes for one Lambda memory size."""
    events = 1e6 / records
    cpu_wall = cpu_s * max(1.0, FULL_VCPU_MB / memory_mb)
    rounds = -(-puts // WRITE_CONCURRENCY)
    wall = cpu_wall + rounds * S3_PUT_LATENCY_S
    gb_s = memory_mb / 1024 * wall
    return {
        "seconds per event": wall,
        "compute": events * gb_s * LAMBDA_ARM_GB_S,
        "requests": events * LAMBDA_REQUEST,
        "puts": events * puts * S3_PUT,
    }


def firehose_cost(message_bytes):
    billed_gb = 1e6 * max(5 * 1024, -(-message_bytes // (5 * 1024)) * 5 * 1024) / 2**30
    return billed_gb * (FIREHOSE_INGEST_GB + FIREHOSE_CONVERT_GB)


def main():
    print("| tables | function | memory | s per event | Lambda compute | requests | S3 PUTs | total per million changes |")
    print("|---|---|---|---|---|---|---|---|")
    for tables, (records, puts, cpu_s, py_cpu_s, py_rss, msg) in MEASURED.items():
        for name, cpu, mem in (("cdc-sink", cpu_s, 128), ("cdc-sink", cpu_s, 1769),
                               ("Python", py_cpu_s, max(256, py_rss * 1.25)),
                               ("Python", py_cpu_s, 1769)):
            c = lambda_cost(records, puts, cpu, int(mem))
            total = c["compute"] + c["requests"] + c["puts"]
            print(f"| {tables} | {name} | {int(mem)} MB | {c['seconds per event']:.2f} | "
                  f"${c['compute']:.4f} | ${c['requests']:.4f} | ${c['puts']:.4f} | ${total:.4f} |")
        print(f"| {tables} | Firehose + format conversion | - | - | - | - | - | "
              f"${firehose_cost(msg):.4f} (one stream per table) |")


if __name__ == "__main__":
    main()
