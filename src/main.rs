//! vaultsync's entry point: parse configuration, start telemetry, run the operator.

use clap::Parser;
use vaultsync::config::{Cli, Command, LogFormatArg};
use vaultsync::telemetry::{LogFormat, init_logging};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(config) => {
            let format = match config.log_format {
                LogFormatArg::Json => LogFormat::Json,
                LogFormatArg::Text => LogFormat::Text,
            };
            init_logging(format, "info,kube=warn,azure_core=warn");
            if let Err(err) = vaultsync::controller::run(config).await {
                tracing::error!(error = %err, "vaultsync stopped on an error");
                eprintln!("vaultsync: {err}");
                return std::process::ExitCode::FAILURE;
            }
            std::process::ExitCode::SUCCESS
        }
    }
}
