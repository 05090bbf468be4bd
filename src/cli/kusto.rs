//! `fwlog kusto external-table`: the control commands that let an Azure Data Explorer cluster or Fabric
//! Eventhouse read a firewall's storage archive as the tables fwlog queries, so `deny-report --cluster` runs
//! over years of archived logs without ingesting them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::error::user;
use crate::live::archive::{Archive, Category, Credential, StorageUrl};
use crate::note;

#[derive(Debug, Args)]
pub struct KustoArgs {
    #[command(subcommand)]
    pub command: KustoCommand,
}

#[derive(Debug, Subcommand)]
pub enum KustoCommand {
    /// Print the commands that make a storage archive queryable by fwlog: one external table per diagnostic
    /// category (partitioned by the blob path's firewall, date and hour, with a JSON mapping of time, category,
    /// resourceId, operationName and properties) and one function per Log Analytics table, for both diagnostic
    /// modes. Run the script in the database, then `fwlog deny-report --cluster … --table-map …`.
    #[command(after_help = EXTERNAL_TABLE_EXAMPLES)]
    ExternalTable(ExternalTableArgs),
}

const EXTERNAL_TABLE_EXAMPLES: &str = "Examples:
  fwlog kusto external-table --storage https://fwarchive.blob.core.windows.net --managed-identity > archive.kql
  SAS=\"$(az storage account generate-sas …)\" fwlog kusto external-table \\
      --storage https://fwarchive.blob.core.windows.net --sas-env SAS -o archive.kql
  fwlog kusto external-table --storage https://fwarchive.blob.core.windows.net --managed-identity \\
      --category AZFWApplicationRule --category AZFWNetworkRule

Run the script in the database (web UI, Kusto Explorer, or `az kusto`), then:
  fwlog deny-report --cluster https://NAME.REGION.kusto.windows.net --database DB --since 90d \\
      --table-map AZFWNetworkRule=FwArchive_AZFWNetworkRule(window) …     (fwlog prints the full list)
When to use it, and what it costs: docs/kusto.md.";

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("credential").required(true).args(["sas_env", "managed_identity"])))]
pub struct ExternalTableArgs {
    /// The storage account the firewall's diagnostic setting archives to: its blob endpoint, without container.
    #[arg(long, value_name = "URL")]
    pub storage: StorageUrl,

    /// Read the storage with the SAS token in this environment variable (List + Read). The token ends up in the
    /// script, so the script goes to a file (-o) or a pipe, never to the terminal.
    #[arg(long, value_name = "VAR")]
    pub sas_env: Option<String>,

    /// Read the storage as the cluster's managed identity: `system` (the default) or a user-assigned identity's
    /// object ID. It needs Storage Blob Data Reader on the account and a managed identity policy that allows
    /// ExternalTable (Azure Data Explorer; Fabric uses SAS or impersonation).
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "system")]
    pub managed_identity: Option<String>,

    /// Only these diagnostic categories (repeatable; default: every category fwlog reads, both diagnostic
    /// modes). A category whose container does not exist makes queries over its function fail: leave it out.
    #[arg(long = "category", value_name = "CATEGORY", value_parser = Category::parse)]
    pub categories: Vec<Category>,

    /// Name prefix: external tables PREFIXBlobs_<category>, functions PREFIX_<table>.
    #[arg(long, value_name = "NAME", default_value = "FwArchive")]
    pub prefix: String,

    /// Write the script to this file (atomically, created readable by you only) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: KustoArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KustoCommand::ExternalTable(a) => external_table(a),
    }
}

fn external_table(a: ExternalTableArgs) -> anyhow::Result<ExitCode> {
    let credential = match (&a.sas_env, &a.managed_identity) {
        (Some(var), _) => {
            let value = std::env::var(var).map_err(|_| {
                user(format!(
                    "--sas-env {var}: the environment variable {var} is not set; put the SAS token in it (List and \
                     Read permissions on the account's containers)"
                ))
            })?;
            crate::messages::register_secret(value.trim().trim_start_matches('?'));
            Credential::sas(&value).map_err(|e| user(format!("--sas-env {var}: {e}")))?
        }
        (None, Some(id)) => Credential::managed_identity(id)
            .map_err(|e| user(format!("--managed-identity: {e}")))?,
        (None, None) => unreachable!("clap requires one credential"),
    };
    let secret = matches!(credential, Credential::Sas(_));
    if secret && a.output.is_none() && std::io::stdout().is_terminal() {
        return Err(user(
            "the script carries the SAS token: write it to a file (-o archive.kql) or a pipe, not the terminal",
        ));
    }
    let archive = Archive::new(a.storage, credential, &a.prefix, a.categories)
        .map_err(|e| user(format!("--prefix: {e}")))?;
    let script = archive.script()?;
    crate::output::emit(a.output.as_deref(), script.as_bytes())?;
    let map: Vec<String> = archive
        .table_map()
        .iter()
        .map(|(t, e)| format!("{t}={e}"))
        .collect();
    note!(
        "{} external table(s) and {} function(s){}. Run the script in the database, then query with:",
        archive.categories.len(),
        archive.tables().len(),
        a.output
            .as_ref()
            .map(|p| format!(" written to {}", p.display()))
            .unwrap_or_default()
    );
    note!(
        "  fwlog deny-report --cluster URL --database DB --since 30d {}",
        map.iter()
            .map(|m| format!("--table-map '{m}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    note!(
        "or put the map in the config file: [kusto] table_map = {{ {} }}",
        archive
            .table_map()
            .iter()
            .map(|(t, e)| format!("{t} = \"{e}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if matches!(archive.credential, Credential::ManagedIdentity(_)) {
        note!(
            "the cluster's identity needs Storage Blob Data Reader on the account, and the managed identity policy must \
             allow external tables: .alter-merge cluster policy managed_identity \
             ```[{{\"ObjectId\":\"{}\",\"AllowedUsages\":\"ExternalTable\"}}]```",
            match &archive.credential {
                Credential::ManagedIdentity(id) => id.as_str(),
                Credential::Sas(_) => "",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
