//! The part of `deny-report` and `recommend` that is the same: choose the source (files, Log Analytics or a
//! cluster), read it into the engine, and tell the user what was read.

use std::path::Path;
use std::sync::Arc;

use super::args::{InputArgs, LiveArgs};
use crate::catalog::Cloud;
use crate::engine::{DenyAggregator, Groups};
use crate::event::normalize::format_time_us;
use crate::event::stats::ReadStats;
use crate::input::{FileSource, Pushdown};
use crate::live::config::LiveConfig;
use crate::live::config::LiveRequest;
use crate::live::kql;
use crate::query::{Query, Window};
use crate::{info, note};

/// Where a command's denies come from.
pub enum Source {
    /// Exported files (`--input`), opened when read.
    Files(InputArgs),
    /// Log Analytics workspaces or cluster databases (flag, environment or config file).
    Live(LiveConfig),
}

impl Source {
    /// A configured workspace or cluster is queried; otherwise the files named with `--input` are read.
    pub fn choose(input: &InputArgs, live: &LiveArgs, cloud: Cloud) -> anyhow::Result<Source> {
        let cfg = crate::live::config::resolve(&live.request(), cloud, !input.inputs.is_empty())?;
        Ok(match cfg {
            Some(cfg) => Source::Live(cfg),
            None => Source::Files(input.clone()),
        })
    }
}

/// The groups of a query and what the source read to form them.
pub struct Denies {
    /// Made by the report as it labels them (files), or already made (live sources).
    pub groups: Groups,
    pub stats: ReadStats,
    /// Files read, or the tables a live source used.
    pub sources: Vec<String>,
    /// The query's window, made explicit where the source needed it (a live query covers the last 24 hours
    /// unless told otherwise).
    pub window: Window,
}

/// Read the source and group its denies; `output` (the command's `-o`) must not be one of the inputs.
pub fn deny_groups(
    source: &Source,
    query: Query,
    now_us: i64,
    output: Option<&Path>,
) -> anyhow::Result<Denies> {
    deny_groups_by(source, query, now_us, output, false)
}

/// [`deny_groups`], with each group keyed by the workspace or database it came from when `by_origin`
/// (`deny-report --by-origin`). Each origin is grouped on its own — the origin is a key, so nothing merges across
/// origins and every origin's groups are exactly its single report's — then the groups are sorted together.
pub fn deny_groups_by(
    source: &Source,
    query: Query,
    now_us: i64,
    output: Option<&Path>,
    by_origin: bool,
) -> anyhow::Result<Denies> {
    match source {
        Source::Files(_) if by_origin => Err(crate::error::user(
            "--by-origin keeps the workspace or cluster database of each group apart: it needs --workspace or \
             --cluster/--database (files have no origin to key on)",
        )),
        Source::Files(input) => from_files(input, query, output),
        Source::Live(cfg) => from_live(cfg, query, now_us, by_origin),
    }
}

fn from_files(input: &InputArgs, query: Query, output: Option<&Path>) -> anyhow::Result<Denies> {
    let files = FileSource::open(&input.inputs, input.input_format, input.keep_duplicates)?;
    crate::output::check_not_input(output, &files.files)?;
    let mut agg = DenyAggregator::new(query.clone());
    let pushdown = Pushdown {
        from_us: query.window.from_us,
        to_us: query.window.to_us,
        deny_only: true,
        core_only: true,
    };
    // The readers tally the denies they select where they read them (on every core for Parquet and JSON
    // lines); the engine merges the tallies and applies the query's filters per distinct pair at the end.
    let stats = files.tally(pushdown, &mut |tally| {
        agg.add_tally(tally);
        Ok(())
    })?;
    // -vvv: what the run held in memory (not at -vv, whose output the golden files pin).
    if crate::messages::verbose(3) {
        crate::messages::emit(format_args!("{}", agg.describe()));
    }
    release_free_memory();
    Ok(Denies {
        groups: Groups::Pending(Box::new(agg)),
        sources: stats.files.clone(),
        stats,
        window: query.window,
    })
}

/// Hand the memory the reader threads freed back to the system. glibc keeps each thread's freed blocks in that
/// thread's arena, so the decode buffers of the workers (~400 MB) stayed in the RSS while the report was built
/// on the main thread, which allocates from its own arena (measured: 485 -> 720 MiB at the end of 100M rows).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of the allocator's arenas to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn from_live(
    cfg: &LiveConfig,
    mut query: Query,
    now_us: i64,
    by_origin: bool,
) -> anyhow::Result<Denies> {
    let window = crate::live::window_of(&query.window, now_us);
    query.window = Window {
        from_us: Some(window.from_us),
        to_us: Some(window.to_us),
    };
    let client = Arc::new(crate::live::client_for(cfg)?);
    let read = crate::live::runtime()?.block_on(crate::live::summary::read(
        client.clone(),
        cfg,
        &query.filters,
        window,
    ))?;
    info!(
        "{} {} request(s), {} retried",
        client.requests.load(std::sync::atomic::Ordering::Relaxed),
        match cfg.service {
            crate::live::client::Service::LogAnalytics => "Log Analytics",
            crate::live::client::Service::Kusto => "cluster",
        },
        client.retries.load(std::sync::atomic::Ordering::Relaxed)
    );
    let groups = if by_origin {
        let mut per_origin: std::collections::BTreeMap<String, DenyAggregator> =
            std::collections::BTreeMap::new();
        // Every configured origin appears, also one without denies (it simply adds no group).
        for t in &cfg.targets {
            per_origin.insert(t.key().to_string(), DenyAggregator::new(query.clone()));
        }
        for (origin, batch) in read.batches {
            per_origin
                .entry(origin)
                .or_insert_with(|| DenyAggregator::new(query.clone()))
                .add(batch)?;
        }
        let mut groups = Vec::new();
        for (origin, agg) in per_origin {
            groups.extend(agg.finish()?.into_iter().map(|mut g| {
                g.origin = Some(origin.clone());
                g
            }));
        }
        crate::engine::sort_groups(&mut groups);
        groups
    } else {
        let mut agg = DenyAggregator::new(query.clone());
        for (_, batch) in read.batches {
            agg.add(batch)?;
        }
        agg.finish()?
    };
    Ok(Denies {
        groups: groups.into(),
        stats: read.stats,
        sources: read.sources,
        window: query.window,
    })
}

/// What a user needs to know about the input, on stderr: an empty window, folders' passed-over files, and under
/// `-v` the skipped records with file:line, unparsed examples and the sources read.
pub fn print_diagnostics(stats: &ReadStats, sources: &[String]) {
    if stats.events > 0 && stats.events_in_window == 0 {
        note!(
            "the time window holds no events, but the input does: it covers {} .. {}",
            stats.first_us.map(format_time_us).as_deref().unwrap_or("?"),
            stats.last_us.map(format_time_us).as_deref().unwrap_or("?")
        );
    }
    let verbose = crate::messages::verbosity();
    if !stats.passed_over.is_empty() {
        note!(
            "{} file(s) in the input folders passed over (not log files, special files or folders read already){}",
            stats.passed_over.len(),
            if verbose == 0 { "; -v lists them" } else { ":" }
        );
        for f in &stats.passed_over {
            info!("  {f}");
        }
    }
    if verbose == 0 {
        if stats.skipped > 0 || stats.unparsed > 0 {
            note!(
                "{} record(s) skipped, {} unparsed; run with -v to list them",
                stats.skipped,
                stats.unparsed
            );
        }
        return;
    }
    let limit = if verbose > 1 { usize::MAX } else { 10 };
    for s in stats.skip_examples.iter().take(limit) {
        note!("skipped {}:{}: {}", s.file, s.line, s.reason);
    }
    for (f, l, m) in stats.unparsed_examples.iter().take(limit) {
        note!("unparsed {f}:{l}: {m}");
    }
    for s in sources {
        note!("read {s}");
    }
}

/// `--print-kql` of a deny summary: the table list and the summary queries over the window, with the table names
/// of the service the command line, environment or config file points at. Needs no sign-in.
pub fn print_summary_kql(
    live: &LiveRequest,
    window: &Window,
    filters: &crate::query::Filters,
    now_us: i64,
) -> anyhow::Result<()> {
    let firewall = crate::live::config::configured_firewall(live)?;
    let tables = crate::live::config::configured_tables(live)?;
    let window = crate::live::window_of(window, now_us);
    let mut opts = crate::live::summary::summary_options(filters, firewall.clone());
    opts.tables = tables.clone();
    let qs = vec![
        kql::sources(window, firewall.as_ref(), &tables)?,
        kql::deny_summary(window, &opts)?,
    ];
    crate::output::emit(None, kql::join_for_print(&qs).as_bytes())
}
