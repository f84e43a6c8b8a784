//! The `vaultsync run` flags of the restart controller.

use std::time::Duration;

use clap::Args;

use super::gate::Caps;

/// Flags that turn on and bound rollout restarts of consuming workloads.
#[derive(Debug, Clone, Args)]
pub struct RestartSettings {
    /// Restart opted-in Deployments, StatefulSets and DaemonSets when the managed Secrets they
    /// consume change (`--restarts` or `--restarts=true|false`). Needs get, list, watch and patch
    /// on those kinds.
    #[arg(
        long = "restarts",
        env = "VAULTSYNC_RESTARTS",
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub enabled: bool,
    /// Pause every restart: changes are still noticed, and the workloads restart once this is
    /// turned off again.
    #[arg(
        long = "restarts-paused",
        env = "VAULTSYNC_RESTARTS_PAUSED",
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub paused: bool,
    /// How long after the first change of a workload's Secrets its restart waits, so that
    /// Secrets rotated together restart it once.
    #[arg(
        long = "restart-debounce",
        env = "VAULTSYNC_RESTART_DEBOUNCE",
        default_value = "5s",
        value_parser = crate::duration::parse
    )]
    pub debounce: Duration,
    /// Rollouts in progress at once in all watched namespaces; the next waits for one to
    /// complete or to exceed its progress deadline.
    #[arg(
        long = "restart-max-in-progress",
        env = "VAULTSYNC_RESTART_MAX_IN_PROGRESS",
        default_value_t = 10
    )]
    pub max_in_progress: u16,
    /// Rollouts in progress at once in one namespace.
    #[arg(
        long = "restart-max-in-progress-per-namespace",
        env = "VAULTSYNC_RESTART_MAX_IN_PROGRESS_PER_NAMESPACE",
        default_value_t = 3
    )]
    pub max_in_progress_per_namespace: u16,
    /// How long a StatefulSet or DaemonSet rollout vaultsync started holds a slot at most
    /// (Deployments report their own progress deadline).
    #[arg(
        long = "restart-progress-deadline",
        env = "VAULTSYNC_RESTART_PROGRESS_DEADLINE",
        default_value = "10m",
        value_parser = crate::duration::parse
    )]
    pub progress_deadline: Duration,
}

impl RestartSettings {
    /// The caps on rollouts in progress (at least one each, so restarts can happen at all).
    pub fn caps(&self) -> Caps {
        Caps {
            cluster: usize::from(self.max_in_progress.max(1)),
            per_namespace: usize::from(self.max_in_progress_per_namespace.max(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        restarts: RestartSettings,
    }

    fn parse(args: &[&str]) -> RestartSettings {
        Flags::try_parse_from(std::iter::once("test").chain(args.iter().copied()))
            .expect("flags parse")
            .restarts
    }

    #[test]
    fn off_by_default_with_a_five_second_window() {
        let settings = parse(&[]);
        assert!(!settings.enabled);
        assert!(!settings.paused);
        assert_eq!(settings.debounce, Duration::from_secs(5));
        assert_eq!(
            settings.caps(),
            Caps {
                cluster: 10,
                per_namespace: 3
            }
        );
        assert_eq!(settings.progress_deadline, Duration::from_secs(600));
    }

    #[test]
    fn flags_parse() {
        let settings = parse(&[
            "--restarts",
            "--restarts-paused=true",
            "--restart-debounce=500ms",
            "--restart-max-in-progress=3",
            "--restart-max-in-progress-per-namespace=0",
        ]);
        assert!(settings.enabled && settings.paused);
        assert_eq!(settings.debounce, Duration::from_millis(500));
        assert_eq!(
            settings.caps(),
            Caps {
                cluster: 3,
                per_namespace: 1
            }
        );
    }
}
