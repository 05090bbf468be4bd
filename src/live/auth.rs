//! Signing in to Log Analytics with azure_identity 1.0, which has no default or environment credential: fwlog
//! builds its own chain.
//!
//! Order (first that yields a token wins and is kept for the rest of the run; `--auth` pins one):
//! 1. **env** — `AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET` (service principal);
//! 2. **workload** — `AZURE_FEDERATED_TOKEN_FILE` (+ `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`), as AKS workload identity sets;
//! 3. **msi** — managed identity: `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` (App Service, Container Apps) or the VM
//!    instance metadata service (tried for at most a few seconds in the chain);
//! 4. **cli** — the Azure CLI's account (`az login`).
//!
//! `AZURE_AUTHORITY_HOST` is honoured by azure_identity when no `--cloud` is given; `--cloud` selects the
//! sovereign authority. Tokens and secrets are never formatted into any message: errors carry the credential's
//! own text, which azure_identity keeps free of them.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use tokio::sync::Mutex;

use super::config::{AuthMethod, Cloud, authority_of};
use crate::error::user;

/// A bearer token and its expiry (unix seconds). `Debug` never shows the token.
#[derive(Clone)]
pub struct Token {
    secret: String,
    pub expires_unix: i64,
}

impl Token {
    pub fn bearer(&self) -> &str {
        &self.secret
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_unix", &self.expires_unix)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// A fixed token (unit tests of the client).
    pub fn fixed(secret: &str, expires_unix: i64) -> Token {
        Token {
            secret: secret.to_string(),
            expires_unix,
        }
    }
}

/// Where tokens come from: the credential chain, or a fixed token.
pub enum Tokens {
    Chain(Chain),
    Fixed(Token),
}

impl Tokens {
    pub async fn token(&self) -> anyhow::Result<Token> {
        match self {
            Tokens::Chain(c) => c.token().await,
            Tokens::Fixed(t) => Ok(t.clone()),
        }
    }

    /// Forget the token (the service rejected it). azure_identity 1.0 has no "force refresh" and caches tokens
    /// inside each credential, so the credential itself is dropped and the next call builds a new one.
    pub async fn invalidate(&self) {
        if let Tokens::Chain(c) = self {
            let mut st = c.state.lock().await;
            st.cached = None;
            st.chosen = None;
        }
    }
}

/// The credential chain with a cached token, refreshed five minutes before it expires.
pub struct Chain {
    cloud: Option<Cloud>,
    scope: String,
    pinned: Option<AuthMethod>,
    state: Mutex<ChainState>,
}

#[derive(Default)]
struct ChainState {
    chosen: Option<(AuthMethod, Arc<dyn TokenCredential>)>,
    cached: Option<Token>,
}

impl Chain {
    /// `cloud`: `None` lets azure_identity read `AZURE_AUTHORITY_HOST` (public cloud when unset).
    pub fn new(cloud: Option<Cloud>, scope: &str, pinned: Option<AuthMethod>) -> Self {
        Chain {
            cloud,
            scope: scope.to_string(),
            pinned,
            state: Mutex::new(ChainState::default()),
        }
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            cloud: self.cloud.map(|c| Arc::new(authority_of(c))),
            ..Default::default()
        }
    }

    fn build(&self, m: AuthMethod) -> Result<Arc<dyn TokenCredential>, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match m {
            AuthMethod::Env => {
                let (Some(t), Some(c), Some(s)) = (
                    var("AZURE_TENANT_ID"),
                    var("AZURE_CLIENT_ID"),
                    var("AZURE_CLIENT_SECRET"),
                ) else {
                    return Err(
                        "AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set"
                            .into(),
                    );
                };
                let opts = azure_identity::ClientSecretCredentialOptions {
                    client_options: self.client_options(),
                };
                azure_identity::ClientSecretCredential::new(&t, c, Secret::new(s), Some(opts))
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|e| e.to_string())
            }
            AuthMethod::Workload => {
                if var("AZURE_FEDERATED_TOKEN_FILE").is_none() {
                    return Err("AZURE_FEDERATED_TOKEN_FILE is not set".into());
                }
                let mut opts = azure_identity::WorkloadIdentityCredentialOptions::default();
                opts.credential_options.client_options = self.client_options();
                azure_identity::WorkloadIdentityCredential::new(Some(opts))
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|e| e.to_string())
            }
            AuthMethod::Msi => {
                let opts = azure_identity::ManagedIdentityCredentialOptions {
                    user_assigned_id: var("AZURE_CLIENT_ID")
                        .filter(|_| var("AZURE_FEDERATED_TOKEN_FILE").is_none())
                        .map(azure_identity::UserAssignedId::ClientId),
                    client_options: self.client_options(),
                };
                azure_identity::ManagedIdentityCredential::new(Some(opts))
                    .map(|c| c as Arc<dyn TokenCredential>)
                    .map_err(|e| e.to_string())
            }
            AuthMethod::Cli => azure_identity::AzureCliCredential::new(None)
                .map(|c| c as Arc<dyn TokenCredential>)
                .map_err(|e| e.to_string()),
        }
    }

    async fn fetch(
        &self,
        cred: &Arc<dyn TokenCredential>,
        limit: Option<Duration>,
    ) -> Result<Token, String> {
        let scopes = [self.scope.as_str()];
        let fut = cred.get_token(&scopes, None);
        let res = match limit {
            Some(d) => tokio::time::timeout(d, fut)
                .await
                .map_err(|_| format!("no answer within {}s", d.as_secs()))?,
            None => fut.await,
        };
        res.map(|t| Token {
            secret: {
                crate::messages::register_secret(t.token.secret());
                t.token.secret().to_string()
            },
            expires_unix: t.expires_on.unix_timestamp(),
        })
        .map_err(|e| first_line(&e.to_string()))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Whether a program is on PATH (to tell "sign in with az" from "install az").
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let p = dir.join(program);
            p.is_file()
                && std::fs::metadata(&p).is_ok_and(|m| {
                    std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
                })
        })
    })
}

fn hint(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::Cli if !on_path("az") => {
            "the Azure CLI (az) is not installed: install it and run `az login`, or sign in another way \
             (--auth env|workload|msi)"
        }
        AuthMethod::Env => {
            "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET for a service principal"
        }
        AuthMethod::Workload => {
            "run in a pod with Azure workload identity enabled (AZURE_FEDERATED_TOKEN_FILE)"
        }
        AuthMethod::Msi => "run on an Azure resource with a managed identity",
        AuthMethod::Cli => "run `az login` (and `az account set -s <subscription>`)",
    }
}

impl Chain {
    pub async fn token(&self) -> anyhow::Result<Token> {
        let mut st = self.state.lock().await;
        let now = chrono::Utc::now().timestamp();
        if let Some(t) = &st.cached
            && t.expires_unix - 300 > now
        {
            return Ok(t.clone());
        }
        if let Some((m, cred)) = st.chosen.clone() {
            let t = self.fetch(&cred, None).await.map_err(|e| {
                user(format!(
                    "signing in with {} failed: {e}; {}",
                    m.name(),
                    hint(m)
                ))
            })?;
            st.cached = Some(t.clone());
            return Ok(t);
        }
        let methods: Vec<AuthMethod> = match self.pinned {
            Some(m) => vec![m],
            None => AuthMethod::CHAIN.to_vec(),
        };
        let mut tried = Vec::new();
        for m in methods {
            let cred = match self.build(m) {
                Ok(c) => c,
                Err(e) => {
                    tried.push(format!("{}: {e}", m.name()));
                    continue;
                }
            };
            // In the chain, the metadata service of a non-Azure machine may never answer: do not wait long.
            let limit =
                (self.pinned.is_none() && m == AuthMethod::Msi).then(|| Duration::from_secs(5));
            match self.fetch(&cred, limit).await {
                Ok(t) => {
                    st.chosen = Some((m, cred));
                    st.cached = Some(t.clone());
                    return Ok(t);
                }
                Err(e) => tried.push(format!("{}: {e}", m.name())),
            }
        }
        let fixes: Vec<&str> = match self.pinned {
            Some(m) => vec![hint(m)],
            None => vec![hint(AuthMethod::Cli), hint(AuthMethod::Env)],
        };
        Err(user(format!(
            "could not sign in to Azure. Tried — {}. To fix: {}",
            tried.join("; "),
            fixes.join(", or ")
        )))
    }
}

/// The method a chain settled on, for `-v` output.
impl Chain {
    pub async fn chosen(&self) -> Option<AuthMethod> {
        self.state.lock().await.chosen.as_ref().map(|(m, _)| *m)
    }
}
