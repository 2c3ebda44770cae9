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

# Measured on the bench's events (BENCHMARKS.md, issue 16), per 6 MB event:
# tables: (records, PUTs, cdc-sink CPU s on one core, cdc-sink peak RSS MB,
#          Python handler CPU s, Python peak RSS MB, mean DMS message bytes)
MEASURED = {
    4: (4356, 9, 0.0133, 26, 0.141, 168, 690),
    50: (4366, 101, 0.0258, 30, 0.582, 155, 687),
    500: (4644, 1000, 0.130, 43, 4.83, 163, 622),
}
# A shard delivers at most 1,000 records a second: to keep up, an event must take at most
# (records / 1,000) seconds.
SHARD_RECORDS_PER_S = 1000
MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3538, 10240)
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


def keeping_up(records, puts, cpu_s, rss_mb):
    """The smallest memory size that holds the process and keeps up with one shard."""
    for mem in MEMORY_SIZES:
        if mem < rss_mb * 1.25:
            continue
        c = lambda_cost(records, puts, cpu_s, mem)
        if c["seconds per event"] <= records / SHARD_RECORDS_PER_S:
            return mem, c
    # None keeps up; report one vCPU (a single-threaded handler gains nothing above it).
    return None, lambda_cost(records, puts, cpu_s, FULL_VCPU_MB)


def main():
    print("| tables | function | memory that keeps up with a shard | s per event | Lambda duration | requests | S3 PUTs | Lambda + PUTs per million changes |")
    print("|---|---|---|---|---|---|---|---|")
    for tables, (records, puts, cpu_s, rss, py_cpu_s, py_rss, msg) in MEASURED.items():
        for name, cpu, mem_floor in (("cdc-sink", cpu_s, rss), ("Python (pandas)", py_cpu_s, py_rss)):
            mem, c = keeping_up(records, puts, cpu, mem_floor)
            total = c["compute"] + c["requests"] + c["puts"]
            shown = f"{mem} MB" if mem else "none (1 vCPU is too slow)"
            print(f"| {tables} | {name} | {shown} | {c['seconds per event']:.2f} | "
                  f"${c['compute']:.5f} | ${c['requests']:.5f} | ${c['puts']:.4f} | ${total:.4f} |")
        print(f"| {tables} | Firehose, format conversion to Parquet | - | - | - | - | - | "
              f"${firehose_cost(msg):.4f} |")

    print()
    print("| records per event | tables touched per event (of 500, uniform) | S3 PUTs per million changes | their cost |")
    print("|---|---|---|---|")
    for n in (100, 500, 1000, 4400):
        touched = 500 * (1 - (1 - 1 / 500) ** n)
        puts = touched / n * 1e6
        print(f"| {n} | {touched:.0f} | {puts:,.0f} | ${puts * S3_PUT:.2f} |")


if __name__ == "__main__":
    main()
