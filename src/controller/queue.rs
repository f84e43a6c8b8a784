//! The work queue of one controller: each resource waits at most once, runs at most once at a
//! time, and a resource triggered while it runs runs once more after.

use std::collections::{HashSet, VecDeque};

use super::shelf::ResourceAt;

/// Resources waiting to be reconciled and those being reconciled.
#[derive(Default)]
pub struct Queue {
    waiting: VecDeque<ResourceAt>,
    waiting_set: HashSet<ResourceAt>,
    running: HashSet<ResourceAt>,
    /// Running resources triggered again meanwhile.
    again: HashSet<ResourceAt>,
}

impl Queue {
    /// Asks for a reconcile of `at`: queued unless already waiting; held until the running one
    /// ends when it is running.
    pub fn push(&mut self, at: ResourceAt) {
        if self.running.contains(&at) {
            self.again.insert(at);
        } else if self.waiting_set.insert(at.clone()) {
            self.waiting.push_back(at);
        }
    }

    /// The next resource to reconcile, now counted as running.
    pub fn start(&mut self) -> Option<ResourceAt> {
        let at = self.waiting.pop_front()?;
        self.waiting_set.remove(&at);
        self.running.insert(at.clone());
        Some(at)
    }

    /// The reconcile of `at` ended; queues it again when it was triggered meanwhile.
    pub fn finish(&mut self, at: &ResourceAt) {
        self.running.remove(at);
        if self.again.remove(at) {
            self.push(at.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(name: &str) -> ResourceAt {
        ResourceAt::new("team", name)
    }

    #[test]
    fn a_resource_waits_once_in_arrival_order() {
        let mut queue = Queue::default();
        queue.push(at("a"));
        queue.push(at("b"));
        queue.push(at("a"));
        assert_eq!(queue.start(), Some(at("a")));
        assert_eq!(queue.start(), Some(at("b")));
        assert_eq!(queue.start(), None);
    }

    #[test]
    fn a_resource_triggered_while_running_runs_once_more_after() {
        let mut queue = Queue::default();
        queue.push(at("a"));
        assert_eq!(queue.start(), Some(at("a")));
        queue.push(at("a"));
        queue.push(at("a"));
        assert_eq!(queue.start(), None, "never twice at once");
        queue.finish(&at("a"));
        assert_eq!(queue.start(), Some(at("a")));
        queue.finish(&at("a"));
        assert_eq!(queue.start(), None, "the two triggers made one more run");
    }
}
