//! End-to-end tests of the fwlog binary, in one integration-test binary (each such binary links polars again):
//! one module per command, the fake Log Analytics service and the fake Kusto cluster, and shared helpers in
//! [`util`].

mod catalog;
mod deny_report;
mod fake_arm;
mod fake_kusto;
mod fake_la;
mod hostile;
#[cfg(unix)]
mod inputs;
mod kql_check;
mod kusto;
mod live;
mod newcomer;
mod policy;
mod readme;
mod recommend;
mod util;
