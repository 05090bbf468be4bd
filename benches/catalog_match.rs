//! Catalog lookup throughput: N realistic lookups (catalog hits and misses, FQDNs and IPs), 5 runs, median.
//! Run with `cargo bench --bench catalog_match` (release). Target: >= 5 M lookups/s on one core.

use std::hint::black_box;
use std::time::Instant;

use fwlog::catalog::{Catalog, Context};

fn main() {
    let catalog = Catalog::builtin();
    let ctx = Context::default();
    let hosts: &[(&str, u32, &str)] = &[
        ("mcr.microsoft.com", 443, "HTTPS"),
        ("eastus.data.mcr.microsoft.com", 443, "HTTPS"),
        ("aks0b1f-idb7vuoi.hcp.eastus.azmk8s.io", 443, "HTTPS"),
        (
            "38c1758a-197e-44fc-83f8-31bb7619a8bc.ods.opinsights.azure.com",
            443,
            "HTTPS",
        ),
        ("login.microsoftonline.com", 443, "HTTPS"),
        ("management.azure.com", 443, "HTTPS"),
        ("packages.aks.azure.com", 443, "HTTPS"),
        ("security.ubuntu.com", 80, "HTTP"),
        ("registry-1.docker.io", 443, "HTTPS"),
        ("umsah0wq3xfzjmklf2nk.blob.core.windows.net", 443, "HTTPS"),
        ("20.50.1.2", 1194, "UDP"),
        ("www.google.com", 443, "HTTPS"),
        ("api.github.example.org", 443, "HTTPS"),
        ("telemetry.vendor.io", 443, "HTTPS"),
        ("s3.amazonaws.com", 443, "HTTPS"),
        ("10.1.2.3", 8080, "TCP"),
        ("cdn.jsdelivr.net", 443, "HTTPS"),
        ("pypi.python.org", 443, "HTTPS"),
        ("objects.githubusercontent.com", 443, "HTTPS"),
        ("time.windows.com", 123, "UDP"),
    ];
    let n = 2_000_000usize;
    let queries: Vec<(String, u32, &str)> = (0..n)
        .map(|i| {
            let (h, p, pr) = hosts[(i * 7919) % hosts.len()];
            (h.to_string(), p, pr)
        })
        .collect();
    let hit_rate = hosts
        .iter()
        .filter(|(h, p, pr)| !catalog.lookup(Some(h), Some(*p), Some(pr), &ctx).is_empty())
        .count();
    let mut rates = Vec::new();
    for run in 1..=5 {
        let start = Instant::now();
        let mut matches = 0usize;
        for (h, p, pr) in &queries {
            matches +=
                black_box(catalog.lookup(Some(black_box(h)), Some(*p), Some(pr), &ctx)).len();
        }
        let secs = start.elapsed().as_secs_f64();
        let rate = n as f64 / secs;
        println!(
            "run {run}: {n} lookups in {secs:.3} s = {:.2} M lookups/s ({matches} matches)",
            rate / 1e6
        );
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "median: {:.2} M lookups/s over 5 runs ({hit_rate}/{} distinct destinations are catalog hits; target >= 5 M/s)",
        rates[2] / 1e6,
        hosts.len()
    );
}
