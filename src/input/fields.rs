//! The Log Analytics column names (and their spellings in archives, exports and `AzureDiagnostics`) that fwlog
//! reads, and the one function that turns a structured or legacy record into a [`Row`].
//!
//! A reader resolves which of its columns or keys carries each [`Field`] (case-insensitively, with the aliases
//! below) and hands [`to_row`] a lookup; nothing here knows which file format the values came from.

use crate::event::normalize;
use crate::event::{Action, Kind};
use crate::legacy::LegacyEvent;

use super::row::{Row, text};

/// A value as a reader found it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A list or an object (JSON): never a value of a column fwlog reads, so it is reported, not dropped.
    Nested,
}

impl<'a> Val<'a> {
    pub fn as_str(self) -> Option<&'a str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(self) -> Option<u32> {
        match self {
            Val::Int(i) => u32::try_from(i).ok(),
            Val::Float(f) if f.fract() == 0.0 && f >= 0.0 && f <= u32::MAX as f64 => Some(f as u32),
            Val::Str(s) => normalize::port_str(s).or_else(|| s.trim().parse().ok()),
            _ => None,
        }
    }

    /// What sort of value this is, for messages.
    pub fn type_name(self) -> &'static str {
        match self {
            Val::Str(_) => "text",
            Val::Int(_) => "an integer",
            Val::Float(_) => "a number",
            Val::Bool(_) => "a boolean",
            Val::Nested => "a list or object",
        }
    }

    pub fn as_u64(self) -> Option<u64> {
        match self {
            Val::Int(i) => u64::try_from(i).ok(),
            Val::Float(f) if f.fract() == 0.0 && f >= 0.0 => Some(f as u64),
            Val::Str(s) => s.trim().parse().ok().or_else(|| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            }),
            _ => None,
        }
    }
}

macro_rules! fields {
    ($($variant:ident => [$($alias:literal),+]),+ $(,)?) => {
        /// A source column fwlog reads.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Field { $($variant),+ }
        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),+];
            pub const COUNT: usize = Self::ALL.len();
            /// Spellings seen for this column, first the Log Analytics name (compared case-insensitively).
            pub fn aliases(self) -> &'static [&'static str] {
                match self { $(Field::$variant => &[$($alias),+]),+ }
            }
        }
    };
}

fields! {
    Time => ["TimeGenerated", "time", "TimeGenerated [UTC]", "timestamp"],
    Category => ["Category", "category", "classification"],
    OperationName => ["OperationName", "operationName"],
    Table => ["Type"],
    ResourceId => ["_ResourceId", "resourceId", "ResourceId", "firewall"],
    Msg => ["msg_s", "msg", "Message", "message"],
    Protocol => ["Protocol", "Protocol_s", "protocol"],
    SourceIp => ["SourceIp", "SourceIP", "SourceIp_s", "SourceIP_s", "source_ip"],
    SourcePort => ["SourcePort", "SourcePort_d", "SourcePort_s", "source_port"],
    DestinationIp => ["DestinationIp", "DestinationIP", "DestinationIp_s", "DestinationIP_s", "destination"],
    DestinationPort => ["DestinationPort", "DestinationPort_d", "DestinationPort_s", "destination_port"],
    Fqdn => ["Fqdn", "Fqdn_s"],
    TargetUrl => ["TargetUrl", "TargetUrl_s", "url"],
    Action => ["Action", "Action_s", "action"],
    ActionReason => ["ActionReason", "ActionReason_s", "reason_text"],
    Policy => ["Policy", "Policy_s", "policy"],
    RuleCollectionGroup => ["RuleCollectionGroup", "RuleCollectionGroup_s", "rule_collection_group"],
    RuleCollection => ["RuleCollection", "RuleCollection_s", "rule_collection"],
    Rule => ["Rule", "Rule_s", "rule"],
    WebCategory => ["WebCategory", "WebCategory_s", "web_category"],
    ThreatDescription => ["ThreatDescription", "ThreatDescription_s", "threat"],
    SignatureId => ["SignatureId", "SignatureId_s", "signature_id"],
    Description => ["Description", "Description_s", "signature"],
    Severity => ["Severity", "Severity_d", "severity"],
    TranslatedIp => ["TranslatedIp", "TranslatedIp_s", "translated_ip"],
    TranslatedPort => ["TranslatedPort", "TranslatedPort_d", "translated_port"],
    QueryName => ["QueryName", "QueryName_s"],
    QueryType => ["QueryType", "QueryType_s", "dns_query_type"],
    ResponseCode => ["ResponseCode", "ResponseCode_s", "dns_response_code"],
    ErrorMessage => ["ErrorMessage", "ErrorMessage_s", "Error", "Error_s"],
    Count => ["ApplicationRuleCount", "NetworkRuleCount", "NatRuleCount", "count_", "Count"],
    Kind => ["kind"],
    Hits => ["hits"],
}

/// What values a column of a [`Field`] may hold. Readers with typed columns (Parquet) check each column once
/// per file against this; readers without (JSON) get [`RowProblem::WrongType`] from [`fill_row`] per value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Text only: names, addresses, actions, rule names, the legacy message.
    Text,
    /// A number or text holding one: ports, counts, severity, signature ids.
    Number,
    /// A timestamp, an integer (microseconds since 1970) or text in one of the export forms.
    Time,
}

impl Expect {
    pub fn describe(self) -> &'static str {
        match self {
            Expect::Text => "text",
            Expect::Number => "numbers (or text holding numbers)",
            Expect::Time => "timestamps (or text or integer microseconds)",
        }
    }
}

impl Field {
    /// The column's name in Log Analytics, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Field::Count => "ApplicationRuleCount/NetworkRuleCount/NatRuleCount",
            f => f.aliases()[0],
        }
    }

    pub fn expects(self) -> Expect {
        match self {
            Field::Time => Expect::Time,
            Field::SourcePort
            | Field::DestinationPort
            | Field::TranslatedPort
            | Field::Severity
            | Field::SignatureId
            | Field::Count
            | Field::Hits => Expect::Number,
            _ => Expect::Text,
        }
    }
}

/// Earliest and latest time fwlog accepts (2000-01-01 and 2100-01-01, UTC, in microseconds): Azure Firewall did
/// not log before 2000, and a time outside is a unit mix-up (seconds read as microseconds) or a corrupt value
/// that would otherwise print as 1970 or overflow date arithmetic downstream.
pub const MIN_TIME_US: i64 = 946_684_800_000_000;
pub const MAX_TIME_US: i64 = 4_102_444_800_000_000;

/// For each [`Field`], the position of the column that carries it (first one wins), so a reader of a table
/// resolves its columns once and every row lookup is an array index.
#[derive(Debug, Clone)]
pub struct FieldIndex([Option<usize>; Field::COUNT]);

impl FieldIndex {
    pub fn new(columns: impl IntoIterator<Item = Option<Field>>) -> Self {
        let mut idx = [None; Field::COUNT];
        for (i, f) in columns.into_iter().enumerate() {
            if let Some(f) = f
                && idx[f as usize].is_none()
            {
                idx[f as usize] = Some(i);
            }
        }
        FieldIndex(idx)
    }

    pub fn get(&self, f: Field) -> Option<usize> {
        self.0[f as usize]
    }

    pub fn has(&self, f: Field) -> bool {
        self.0[f as usize].is_some()
    }
}

/// Whether a table's columns can carry firewall events: a time and a message or an endpoint column.
pub fn has_event_columns(has: impl Fn(Field) -> bool) -> bool {
    has(Field::Time)
        && [
            Field::Msg,
            Field::SourceIp,
            Field::Fqdn,
            Field::DestinationIp,
            Field::QueryName,
        ]
        .into_iter()
        .any(has)
}

/// The end of the message for a table without event columns: what was found (first twelve names).
pub fn found_columns<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.take(12).collect::<Vec<_>>().join(", ")
}

/// Which table a record belongs to, from its category / `Type`, or from the columns it has.
pub fn kind_for_table(name: &str) -> Option<Kind> {
    const TABLES: [(&str, Kind); 14] = [
        ("azfwapplicationrule", Kind::Application),
        ("azfwapplicationruleaggregation", Kind::Application),
        ("azfwnetworkrule", Kind::Network),
        ("azfwnetworkruleaggregation", Kind::Network),
        ("azfwnatrule", Kind::Nat),
        ("azfwnatruleaggregation", Kind::Nat),
        ("azfwthreatintel", Kind::ThreatIntel),
        ("azfwidpssignature", Kind::Idps),
        ("azfwdnsquery", Kind::Dns),
        // DNS proxy flow trace (GA 2025-11): table AZFWDnsFlowTrace, diagnostic category AZFWDnsAdditional.
        // It records DNS exchanges, never a verdict, so it counts as read and never as a deny.
        ("azfwdnsflowtrace", Kind::Dns),
        ("azfwdnsadditional", Kind::Dns),
        ("azfwinternalfqdnresolutionfailure", Kind::ResolveFailure),
        ("azfwflowtrace", Kind::FlowTrace),
        ("azfwfatflow", Kind::FatFlow),
    ];
    // The names as Azure writes them, row after row of a table: matched before any trimming or case folding
    // (this function ran for every selected row of a Parquet file and was ~4% of a report's CPU).
    match name {
        "AZFWApplicationRule" => return Some(Kind::Application),
        "AZFWNetworkRule" => return Some(Kind::Network),
        "AZFWNatRule" => return Some(Kind::Nat),
        "AZFWDnsQuery" => return Some(Kind::Dns),
        "AZFWThreatIntel" => return Some(Kind::ThreatIntel),
        "AZFWIdpsSignature" => return Some(Kind::Idps),
        _ => {}
    }
    let n = name.trim();
    // Data-export containers are named `am-<Table>`; the category of resolve failures differs from its table.
    let n = match n.get(..3) {
        Some(p) if p.eq_ignore_ascii_case("am-") => &n[3..],
        _ => n,
    };
    if n.eq_ignore_ascii_case("azfwfqdnresolvefailure") {
        return Some(Kind::ResolveFailure);
    }
    TABLES
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(n))
        .map(|(_, k)| *k)
}

/// Infer the kind of a structured record from the columns it carries (az CLI output has no `Type`).
pub fn kind_from_columns(has: impl Fn(Field) -> bool) -> Kind {
    if has(Field::SignatureId) {
        Kind::Idps
    } else if has(Field::ThreatDescription) {
        Kind::ThreatIntel
    } else if has(Field::QueryName) {
        Kind::Dns
    } else if has(Field::TranslatedIp) {
        Kind::Nat
    } else if (has(Field::Fqdn) && !has(Field::DestinationIp)) || has(Field::TargetUrl) {
        Kind::Application
    } else {
        Kind::Network
    }
}

/// Why a record could not become an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowProblem {
    MissingTime,
    BadTime(String),
    /// A time that parsed, outside [`MIN_TIME_US`]..[`MAX_TIME_US`] (microseconds).
    TimeOutOfRange(i64),
    /// A port that is not a whole number from 0 to 65535 (the value as found).
    BadPort(Field, String),
    /// An event count that is not a whole number from 0 to [`MAX_HITS`] (the value as found).
    BadCount(Field, String),
    /// A value of the wrong sort for its field (what was found).
    WrongType(Field, &'static str),
}

impl std::fmt::Display for RowProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowProblem::MissingTime => f.write_str("no TimeGenerated/time value"),
            RowProblem::BadTime(t) => write!(
                f,
                "time {t:?} is not RFC 3339 or the portal's M/D/YYYY, h:mm:ss AM/PM form"
            ),
            RowProblem::TimeOutOfRange(us) => match chrono::DateTime::from_timestamp_micros(*us) {
                Some(_) => write!(
                    f,
                    "TimeGenerated {} is outside 2000-01-01..2100-01-01",
                    normalize::format_time_us(*us)
                ),
                None => write!(
                    f,
                    "TimeGenerated {us} (microseconds since 1970) is outside 2000-01-01..2100-01-01"
                ),
            },
            RowProblem::BadPort(field, v) => write!(
                f,
                "{} {v:?} is not a port (a whole number from 0 to 65535)",
                field.name()
            ),
            RowProblem::BadCount(field, v) => write!(
                f,
                "{} {v:?} is not an event count (a whole number from 0 to {MAX_HITS})",
                field.name()
            ),
            RowProblem::WrongType(field, found) => write!(
                f,
                "{} holds {found}, expected {}",
                field.name(),
                field.expects().describe()
            ),
        }
    }
}

/// A port value: `None` when absent or blank, an error naming the field when it is not 0–65535.
#[inline]
fn port(field: Field, v: Option<Val<'_>>) -> Result<Option<u32>, RowProblem> {
    match v {
        None => Ok(None),
        Some(Val::Int(i)) => match u16::try_from(i) {
            Ok(p) => Ok(Some(u32::from(p))),
            Err(_) => Err(RowProblem::BadPort(field, i.to_string())),
        },
        Some(Val::Str(s)) => {
            if s.trim().is_empty() {
                Ok(None)
            } else {
                normalize::port_str(s)
                    .map(Some)
                    .ok_or_else(|| RowProblem::BadPort(field, s.to_string()))
            }
        }
        Some(Val::Float(x)) if x.fract() == 0.0 && (0.0..=65535.0).contains(&x) => {
            Ok(Some(x as u32))
        }
        Some(Val::Float(x)) => Err(RowProblem::BadPort(field, x.to_string())),
        Some(other) => Err(RowProblem::WrongType(field, other.type_name())),
    }
}

/// Most events one aggregated row may stand for. Counts are summed over every row read, so an unbounded count
/// (a corrupt or hostile value near `u64::MAX`) overflowed the sums: a panic the Parquet mutation test found.
/// Four billion events of one source, destination and rule in one aggregation interval is beyond any firewall.
pub const MAX_HITS: u64 = u32::MAX as u64;

/// The event count of an aggregated row: `None` when absent or blank, an error naming the field when it is not
/// a whole number from 0 to [`MAX_HITS`].
#[inline]
fn count(field: Field, v: Val<'_>) -> Result<Option<u64>, RowProblem> {
    let bad = |t: String| RowProblem::BadCount(field, t);
    match v {
        Val::Str(t) if t.trim().is_empty() => Ok(None),
        Val::Int(_) | Val::Float(_) | Val::Str(_) => match v.as_u64() {
            Some(n) if n <= MAX_HITS => Ok(Some(n)),
            _ => Err(bad(match v {
                Val::Str(t) => t.to_string(),
                Val::Int(i) => i.to_string(),
                Val::Float(x) => x.to_string(),
                _ => String::new(),
            })),
        },
        other => Err(RowProblem::WrongType(field, other.type_name())),
    }
}

/// A time in microseconds, checked to lie in [`MIN_TIME_US`]..[`MAX_TIME_US`].
#[inline]
fn time_in_range(us: i64) -> Result<i64, RowProblem> {
    if (MIN_TIME_US..MAX_TIME_US).contains(&us) {
        Ok(us)
    } else {
        Err(RowProblem::TimeOutOfRange(us))
    }
}

/// The first text, or the second when there is none (the second is only looked at, and checked, then).
#[inline]
fn or_text<'a>(
    first: Option<&'a str>,
    second: impl FnOnce() -> Result<Option<&'a str>, RowProblem>,
) -> Result<Option<&'a str>, RowProblem> {
    match first {
        Some(t) => Ok(Some(t)),
        None => second(),
    }
}

/// The untrimmed text of a text field (the legacy message), or the error for a value of another sort.
#[inline]
/// [`fill_row`] with `core` for a record the reader has told is a legacy message (`msg`, which `fill_row`
/// would read as one: text starting with a visible character) and has parsed already with
/// `crate::legacy::parse_deny_core_into` (`understood`, the fields in `legacy`): the same row or problem,
/// without a second parse.
pub fn fill_parsed_legacy_row<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    row: &mut Row<'a>,
    msg: &'a str,
    legacy: &LegacyEvent<'a>,
    understood: bool,
) -> Result<(), RowProblem> {
    row.clear();
    fill_head(get, row)?;
    apply_message(row, msg, legacy, understood, true);
    Ok(())
}

/// The fields every record starts with: its time, firewall and events.
fn fill_head<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    row: &mut Row<'a>,
) -> Result<(), RowProblem> {
    row.time_us = match get(Field::Time) {
        None => return Err(RowProblem::MissingTime),
        Some(Val::Str(t)) if t.trim().is_empty() => return Err(RowProblem::MissingTime),
        Some(Val::Str(t)) => Some(time_in_range(
            normalize::time_us(t).ok_or_else(|| RowProblem::BadTime(t.to_string()))?,
        )?),
        Some(Val::Int(us)) => Some(time_in_range(us)?),
        Some(other) => return Err(RowProblem::WrongType(Field::Time, other.type_name())),
    };
    row.firewall = text_field(get, Field::ResourceId)?;
    let counted = match get(Field::Count) {
        Some(v) => count(Field::Count, v)?,
        None => match get(Field::Hits) {
            Some(v) => count(Field::Hits, v)?,
            None => None,
        },
    };
    if let Some(n) = counted {
        row.hits = n;
    }
    Ok(())
}

/// Text of a text field; a value of another sort is an error naming the field, never a silent "absent" (an
/// integer `Fqdn` column read as absent turned every deny into "no SNI").
fn text_field<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    f: Field,
) -> Result<Option<&'a str>, RowProblem> {
    Ok(text(s_raw(get, f)?))
}

/// A record's legacy message: its message text, when it holds more than spaces.
fn legacy_message<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
) -> Result<Option<&'a str>, RowProblem> {
    Ok(s_raw(get, Field::Msg)?
        // A message starting with a visible character is not blank; trimming every row here (even with
        // `normalize::trim`) measured ~1 G more cycles on 10M rows.
        .filter(|m| m.as_bytes().first().is_some_and(u8::is_ascii_graphic) || !m.trim().is_empty()))
}

/// The fields of a parsed legacy message, or the row kept as an unparsed message.
fn apply_message<'a>(
    row: &mut Row<'a>,
    msg: &'a str,
    legacy: &LegacyEvent<'a>,
    understood: bool,
    core: bool,
) {
    if understood && core {
        row.apply_legacy_core(msg, legacy);
    } else if understood {
        row.apply_legacy(msg, legacy);
    } else {
        row.kind = Some(Kind::Unparsed);
        row.message = Some(msg);
    }
}

fn s_raw<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    f: Field,
) -> Result<Option<&'a str>, RowProblem> {
    match get(f) {
        None => Ok(None),
        Some(Val::Str(v)) => Ok(Some(v)),
        Some(other) => Err(RowProblem::WrongType(f, other.type_name())),
    }
}

/// Build a row from a record. `get` returns the value of a field when the record has it; `table` is the table or
/// category name when known. Legacy records (a `msg`/`msg_s` text) are routed through `crate::legacy::parse`;
/// text it does not understand yields an `unparsed` event carrying the raw message.
pub fn to_row<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    table: Option<&str>,
) -> Result<Row<'a>, RowProblem> {
    let mut row = Row::default();
    let mut legacy = LegacyEvent::default();
    fill_row(get, table, &mut row, &mut legacy, false)?;
    Ok(row)
}

/// [`to_row`] into a caller-owned row, with a caller-owned scratch event for the legacy parser: readers of
/// millions of rows reuse both, since moving these ~400-byte structs per row showed in profiles. With `core`
/// (the reader builds the core columns of denies only: `Pushdown::core_only`), legacy messages are parsed for
/// those alone (`crate::legacy::parse_deny_core_into`): a row of another action keeps no destination.
pub fn fill_row<'a>(
    get: &impl Fn(Field) -> Option<Val<'a>>,
    table: Option<&str>,
    row: &mut Row<'a>,
    legacy: &mut LegacyEvent<'a>,
    core: bool,
) -> Result<(), RowProblem> {
    let s = |f: Field| text_field(get, f);
    row.clear();
    fill_head(get, row)?;
    if let Some(msg) = legacy_message(get)? {
        let understood = if core {
            crate::legacy::parse_deny_core_into(msg, legacy)
        } else {
            crate::legacy::parse_into(msg, legacy)
        };
        apply_message(row, msg, legacy, understood, core);
        return Ok(());
    }

    let kind = match s(Field::Kind)?.and_then(Kind::parse) {
        Some(k) => k,
        None => match table.and_then(kind_for_table) {
            Some(k) => k,
            None => match s(Field::Table)?.and_then(kind_for_table) {
                Some(k) => k,
                None => s(Field::Category)?
                    .and_then(kind_for_table)
                    .unwrap_or_else(|| kind_from_columns(|f| get(f).is_some())),
            },
        },
    };
    row.kind = Some(kind);
    row.protocol = s(Field::Protocol)?;
    row.source = s(Field::SourceIp)?.and_then(normalize::host);
    row.source_port = port(Field::SourcePort, get(Field::SourcePort))?;
    row.destination_port = port(Field::DestinationPort, get(Field::DestinationPort))?;
    row.destination = match kind {
        Kind::Dns => match s(Field::QueryName)? {
            Some(q) => Some(q),
            None => or_text(s(Field::Fqdn)?, || s(Field::DestinationIp))?,
        },
        _ => or_text(s(Field::Fqdn)?, || s(Field::DestinationIp))?,
    }
    .and_then(normalize::host);
    row.url = s(Field::TargetUrl)?;
    row.action = s(Field::Action)?.and_then(normalize::action);
    row.policy = s(Field::Policy)?;
    row.rule_collection_group = s(Field::RuleCollectionGroup)?;
    row.rule_collection = s(Field::RuleCollection)?;
    row.rule = s(Field::Rule)?;
    row.reason_text = s(Field::ActionReason)?;
    row.web_category = s(Field::WebCategory)?;
    match kind {
        Kind::ThreatIntel => {
            row.threat = s(Field::ThreatDescription)?;
            row.reason = Some(crate::event::Reason::ThreatIntel);
        }
        Kind::Idps => {
            row.signature_id = match get(Field::SignatureId) {
                Some(Val::Int(_) | Val::Float(_)) => None,
                _ => s(Field::SignatureId)?,
            };
            row.signature = s(Field::Description)?;
            row.classification = s(Field::Category)?.filter(|c| kind_for_table(c).is_none());
            row.severity = get(Field::Severity).and_then(Val::as_u32);
            row.reason = Some(crate::event::Reason::IdpsSignature);
        }
        Kind::Nat => {
            row.translated = s(Field::TranslatedIp)?.and_then(normalize::host);
            row.translated_port = port(Field::TranslatedPort, get(Field::TranslatedPort))?;
        }
        Kind::Dns => {
            row.dns_query_type = s(Field::QueryType)?;
            row.dns_response_code = s(Field::ResponseCode)?;
            row.reason_text = s(Field::ErrorMessage)?;
        }
        Kind::ResolveFailure => {
            row.reason_text = s(Field::ErrorMessage)?;
            row.reason = Some(crate::event::Reason::ResolveFailure);
            row.destination = s(Field::Fqdn)?.and_then(normalize::host);
        }
        _ => {}
    }
    if row.destination.is_none() {
        // A port without a host is not actionable, and legacy text never carries one (SNI missing): dropping it
        // keeps both diagnostic modes' records of one event identical.
        row.destination_port = None;
    }
    if kind == Kind::Application && row.action == Some(Action::Deny) && row.destination.is_none() {
        // Structured app-rule denies without an FQDN are the "SNI TLS extension was missing" case.
        if row
            .reason_text
            .is_some_and(|t| t.to_ascii_lowercase().contains("sni"))
        {
            row.reason = Some(crate::event::Reason::SniMissing);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record of `(field, value)` pairs through [`to_row`].
    fn row(values: &[(Field, Val<'static>)]) -> Result<Row<'static>, RowProblem> {
        let values = values.to_vec();
        to_row(
            &move |f| values.iter().find(|(g, _)| *g == f).map(|(_, v)| *v),
            None,
        )
    }

    const TIME: (Field, Val<'static>) = (Field::Time, Val::Str("2026-01-01T00:00:00Z"));

    #[test]
    fn every_firewall_table_has_its_kind() {
        for (table, kind) in [
            ("AZFWApplicationRule", Kind::Application),
            ("am-AZFWNetworkRuleAggregation", Kind::Network),
            ("AZFWDnsFlowTrace", Kind::Dns),
            ("AZFWDnsAdditional", Kind::Dns),
            ("AZFWFqdnResolveFailure", Kind::ResolveFailure),
        ] {
            assert_eq!(kind_for_table(table), Some(kind), "{table}");
        }
        assert_eq!(kind_for_table("SomethingElse"), None);
        // The names matched as written agree with the general, case-blind comparison.
        for table in [
            "AZFWApplicationRule",
            "AZFWNetworkRule",
            "AZFWNatRule",
            "AZFWDnsQuery",
            "AZFWThreatIntel",
            "AZFWIdpsSignature",
        ] {
            let general = kind_for_table(&format!(" {} ", table.to_lowercase()));
            assert!(general.is_some(), "{table}");
            assert_eq!(kind_for_table(table), general, "{table}");
        }
    }

    #[test]
    fn values_of_the_wrong_sort_are_problems_naming_the_field() {
        // JSON with an integer Fqdn or an object Action: each was read as absent before.
        let e = row(&[
            TIME,
            (Field::Fqdn, Val::Int(42)),
            (Field::Action, Val::Str("Deny")),
        ])
        .unwrap_err();
        assert_eq!(e, RowProblem::WrongType(Field::Fqdn, "an integer"));
        assert_eq!(e.to_string(), "Fqdn holds an integer, expected text");
        let e = row(&[
            TIME,
            (Field::Fqdn, Val::Str("a.example")),
            (Field::Action, Val::Nested),
        ])
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Action holds a list or object, expected text"
        );
        let e = row(&[TIME, (Field::Msg, Val::Bool(true))]).unwrap_err();
        assert_eq!(e, RowProblem::WrongType(Field::Msg, "a boolean"));
        let e = row(&[(Field::Time, Val::Float(1.5e15))]).unwrap_err();
        assert_eq!(e, RowProblem::WrongType(Field::Time, "a number"));
    }

    #[test]
    fn ports_counts_and_times_are_checked_by_range() {
        let dst = (Field::Fqdn, Val::Str("a.example"));
        let port = |v| row(&[TIME, dst, (Field::DestinationPort, v)]).map(|r| r.destination_port);
        assert_eq!(port(Val::Int(443)), Ok(Some(443)));
        assert_eq!(port(Val::Str(" 8080 ")), Ok(Some(8080)));
        assert_eq!(port(Val::Float(53.0)), Ok(Some(53)));
        assert_eq!(port(Val::Str("")), Ok(None));
        assert_eq!(port(Val::Int(0)), Ok(Some(0)));
        assert_eq!(port(Val::Int(65535)), Ok(Some(65535)));
        for (v, shown) in [
            (Val::Int(70000), "70000"),
            (Val::Int(-1), "-1"),
            (Val::Str("70000"), "70000"),
            (Val::Str("https"), "https"),
            (Val::Float(443.5), "443.5"),
        ] {
            assert_eq!(
                port(v),
                Err(RowProblem::BadPort(Field::DestinationPort, shown.into())),
                "{v:?}"
            );
        }
        let hits = |v| row(&[TIME, dst, (Field::Count, v)]).map(|r| r.hits);
        assert_eq!(hits(Val::Int(5)), Ok(5));
        assert_eq!(hits(Val::Str("7")), Ok(7));
        assert!(matches!(
            hits(Val::Int(-5)),
            Err(RowProblem::BadCount(Field::Count, _))
        ));
        assert!(matches!(
            hits(Val::Float(1e19)),
            Err(RowProblem::BadCount(..))
        ));
        let time = |v| row(&[(Field::Time, v), dst]).map(|r| r.time_us);
        assert_eq!(time(Val::Int(MIN_TIME_US)), Ok(Some(MIN_TIME_US)));
        assert_eq!(
            time(Val::Int(MAX_TIME_US)),
            Err(RowProblem::TimeOutOfRange(MAX_TIME_US))
        );
        // Seconds read as microseconds: 1970, refused instead of printed.
        assert_eq!(
            time(Val::Int(1_692_776_050)),
            Err(RowProblem::TimeOutOfRange(1_692_776_050))
        );
        assert_eq!(
            time(Val::Str("1970-01-01T00:00:00Z")),
            Err(RowProblem::TimeOutOfRange(0))
        );
        assert_eq!(
            RowProblem::TimeOutOfRange(0).to_string(),
            "TimeGenerated 1970-01-01T00:00:00Z is outside 2000-01-01..2100-01-01"
        );
    }
}
