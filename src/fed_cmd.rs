//! Federation on the command line: a node's federation options for `serve`, and `enlace fed`:
//! a node's identity (what the hub's directory needs of it), the hub's directory key, signing
//! a directory, installing one on a node (the hub serves the one it holds).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use enlace_app::App;
use enlace_app::fed::{FedSettings, LinkageSecret, signing_key_file};
use enlace_fed::directory::Directory;
use enlace_fed::ids::NodeId;
use enlace_fed::keys::{SigningKey, VerifyingKey};
use enlace_net::TlsIdentity;

/// This node's place in a network of nodes (all off unless `--node-id` is given).
#[derive(Args, Debug, Clone)]
pub struct FedArgs {
    /// This node's id in the network directory (e.g. `gt`). Without it the node works alone.
    #[arg(long, env = "ENLACE_NODE_ID")]
    pub node_id: Option<String>,
    /// The hub's directory key (base64url, from `enlace fed hub-key`): the network's trust anchor.
    /// (A base64url key may start with `-`: it is taken as the value, not as an option.)
    #[arg(long, env = "ENLACE_HUB_KEY", allow_hyphen_values = true)]
    pub hub_key: Option<String>,
    /// Where the hub serves the directory (`http(s)://host:port`); refreshed every 5 minutes.
    #[arg(long, env = "ENLACE_HUB_URL")]
    pub hub_url: Option<String>,
    /// Names and addresses in the node's TLS certificate (self-signed on first start; the
    /// directory pins its key).
    #[arg(long, env = "ENLACE_TLS_HOSTS", value_delimiter = ',', default_value = "localhost,127.0.0.1")]
    pub tls_hosts: Vec<String>,
    /// The file holding the secret the states' nodes share for the cross-border linkage
    /// service (never given to the hub). Without it the node takes no part in the service.
    #[arg(long, env = "ENLACE_LINKAGE_SECRET_FILE")]
    pub linkage_secret_file: Option<PathBuf>,
}

/// The node's signing key and TLS identity, kept in its data directory (made on first use).
fn identity(data_dir: &Path, node: &NodeId, hosts: &[String]) -> Result<(SigningKey, TlsIdentity)> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let key = signing_key_file(&data_dir.join("fed-signing.key")).map_err(anyhow::Error::msg)?;
    let tls = match TlsIdentity::load(data_dir) {
        Ok(t) => t,
        Err(_) if !data_dir.join(enlace_net::CERT_FILE).exists() => {
            let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
            let t = TlsIdentity::self_signed(node, &hosts)?;
            t.save(data_dir)?;
            t
        }
        Err(e) => return Err(e).context("cannot read the node's TLS identity"),
    };
    Ok((key, tls))
}

impl FedArgs {
    /// The federation settings and TLS identity, when `--node-id` is given.
    pub fn settings(&self, data_dir: &Path) -> Result<Option<(FedSettings, TlsIdentity)>> {
        let Some(id) = &self.node_id else { return Ok(None) };
        let node = NodeId::parse(id)?;
        let Some(hub_key) = &self.hub_key else {
            bail!("--node-id needs --hub-key (the hub's directory key)")
        };
        let hub_key = VerifyingKey::from_base64url(hub_key).context("--hub-key")?;
        if let Some(url) = &self.hub_url {
            crate::web_url("--hub-url (ENLACE_HUB_URL)", url)?;
        }
        let (key, tls) = identity(data_dir, &node, &self.tls_hosts)?;
        let mut s = FedSettings::new(node, key, hub_key);
        s.hub_endpoint = self.hub_url.clone();
        if let Some(path) = &self.linkage_secret_file {
            s.linkage_secret = Some(LinkageSecret::from_file(path).map_err(anyhow::Error::msg)?);
        }
        Ok(Some((s, tls)))
    }
}

/// Starts the node's federation: its transport, relay and directory refresh.
pub fn start(app: &App, tls: TlsIdentity) -> Result<()> {
    app.set_transport(Arc::new(enlace_web::fed::HttpsTransport::new(app, tls)?)).map_err(crate::explain)?;
    app.start_federation().map_err(crate::explain)?;
    Ok(())
}

#[derive(Subcommand)]
pub enum FedCommand {
    /// Prints this node's signing key, key id and TLS pin, made on first use: what the hub's
    /// directory entry for the node needs.
    Identity {
        /// Where the node keeps its files.
        #[arg(long, env = "ENLACE_DATA_DIR", default_value = "./enlace-data")]
        data_dir: PathBuf,
        #[command(flatten)]
        fed: FedArgs,
    },
    /// Makes (or reads) the hub's directory-signing key and prints its public half, which
    /// every node is given as --hub-key.
    HubKey {
        /// The key file (owner-only; keep it off the nodes).
        #[arg(long)]
        key_file: PathBuf,
    },
    /// Signs a directory (JSON: serial, issued_at, expires_at, nodes, field_subsets) with the
    /// hub's key, after checking it is coherent.
    SignDirectory {
        /// The hub's key file (from `enlace fed hub-key`).
        #[arg(long)]
        key_file: PathBuf,
        /// The directory as JSON.
        #[arg(long)]
        input: PathBuf,
        /// Where the signed directory (a compact JWS) goes.
        #[arg(long)]
        output: PathBuf,
    },
    /// Installs a signed directory on this node (checked against --hub-key; an older serial
    /// is refused). The hub serves the directory it holds at /fed/v1/directory.
    InstallDirectory {
        #[command(flatten)]
        db: crate::DbArgs,
        #[command(flatten)]
        fed: FedArgs,
        /// The signed directory (from `enlace fed sign-directory`).
        #[arg(long)]
        file: PathBuf,
    },
}

pub async fn run(cmd: FedCommand) -> Result<()> {
    match cmd {
        FedCommand::Identity { data_dir, fed } => {
            let Some(id) = &fed.node_id else { bail!("give the node's id: --node-id") };
            let node = NodeId::parse(id)?;
            let (key, tls) = identity(&data_dir, &node, &fed.tls_hosts)?;
            let out = serde_json::json!({
                "id": node,
                "key": key.verifying_key().to_base64url(),
                "kid": key.kid(),
                "tls_pin": tls.pin(),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        FedCommand::HubKey { key_file } => {
            let key = signing_key_file(&key_file).map_err(anyhow::Error::msg)?;
            println!("{}", key.verifying_key().to_base64url());
            Ok(())
        }
        FedCommand::SignDirectory { key_file, input, output } => {
            if !key_file.exists() {
                bail!("no hub key at {} (make one with `enlace fed hub-key`)", key_file.display());
            }
            let key = signing_key_file(&key_file).map_err(anyhow::Error::msg)?;
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let d: Directory = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a directory", input.display()))?;
            let signed = d.sign(&key)?;
            std::fs::write(&output, signed.as_str())
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!("directory {} signed ({} nodes): {}", d.serial, d.nodes.len(), output.display());
            Ok(())
        }
        FedCommand::InstallDirectory { db, fed, file } => {
            let Some((settings, _)) = fed.settings(&db.data_dir)? else {
                bail!("give the node's id and the hub's key: --node-id, --hub-key")
            };
            let signed =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let app = crate::open_node(&db, false, None, Some(settings)).await?;
            let serial = app.install_directory(signed.trim()).await.map_err(crate::explain)?;
            app.db().close().await;
            eprintln!("directory {serial} installed");
            Ok(())
        }
    }
}
