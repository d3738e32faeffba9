//! `mhrouter`: a userspace multihoming router.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use router_bin::config::{self, SiteConfig};
use router_bin::{run, summary};

/// A userspace multihoming router: AF_XDP ports, connection tracking, sticky per-flow uplink
/// choice, SNAT, static and blackhole routes, uplink health probing and failover.
#[derive(Debug, Parser)]
#[command(
    name = "mhrouter",
    version,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true,
    after_help = "Examples:\n  mhrouter check --config /etc/mhrouter/site.toml   validate, print a summary\n  mhrouter --config /etc/mhrouter/site.toml         run the site\n\nExit status: 0 success, 1 invalid configuration or runtime failure, 2 command-line usage error."
)]
struct Cli {
    /// Site configuration (TOML) to run, e.g. /etc/mhrouter/site.toml
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(flatten)]
    run: RunArgs,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a configuration without touching any interface; print a summary or every error (exit 1)
    Check {
        /// Site configuration (TOML) to check
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the router with a configuration (same as `mhrouter --config FILE`)
    Run {
        /// Site configuration (TOML) to run
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,

        #[command(flatten)]
        run: RunArgs,
    },
}

/// Options of a run that are not site configuration.
#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Stop by itself after this long, e.g. "30s" (tests, demos); default: until SIGINT/SIGTERM
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration_arg)]
    duration: Option<std::time::Duration>,

    /// Print a status line this often, e.g. "1s"
    #[arg(long = "stats-every", value_name = "DURATION", value_parser = parse_duration_arg)]
    stats_every: Option<std::time::Duration>,
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    config::values::parse_duration(s).map_err(|e| e.to_string())
}

/// The flow, NAT and route tables are large and read at random: back them with huge pages (see
/// [`router_io::hugepage`]).
#[global_allocator]
static ALLOC: router_io::HugePageAlloc = router_io::HugePageAlloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match (cli.command, cli.config) {
        (Some(Command::Check { config }), _) => check(&config),
        (Some(Command::Run { config, run }), _) => start(&config, &run),
        (None, Some(config)) => start(&config, &cli.run),
        (None, None) => {
            // arg_required_else_help makes clap print help before we get here.
            eprintln!("mhrouter: give --config FILE or a subcommand; see --help");
            ExitCode::from(2)
        }
    }
}

/// Loads `path`, printing every error on failure.
fn load(path: &Path) -> Option<SiteConfig> {
    match config::load(path) {
        Ok(cfg) => Some(cfg),
        Err(errors) => {
            eprintln!("{errors}");
            let n = errors.0.len();
            eprintln!("{}: {n} error{}, configuration rejected", path.display(), if n == 1 { "" } else { "s" });
            None
        }
    }
}

fn check(path: &Path) -> ExitCode {
    let Some(cfg) = load(path) else { return ExitCode::FAILURE };
    println!("{}: configuration is valid", path.display());
    print!("{}", summary::render(&cfg));
    ExitCode::SUCCESS
}

fn start(path: &Path, args: &RunArgs) -> ExitCode {
    let Some(cfg) = load(path) else { return ExitCode::FAILURE };
    println!("{}: starting", path.display());
    print!("{}", summary::render(&cfg));
    let opts = run::RunOptions {
        duration: args.duration,
        stats_every: args.stats_every,
        config_path: Some(path.to_path_buf()),
    };
    match run::run_with(cfg, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mhrouter: {e:#}");
            ExitCode::FAILURE
        }
    }
}
