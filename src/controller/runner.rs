//! One controller: keeps the watched resources of one kind and scope on a [`Shelf`], queues those
//! whose spec or force-refresh annotation changed and those routed to it (managed-Secret changes,
//! due wakes), and reconciles up to `concurrency` at a time. Written for vaultsync instead of
//! kube-runtime's `Controller`, whose reflector and scheduler kept about 1.5 KB per resource.

use std::collections::HashSet;
use std::sync::Arc;

use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use kube::runtime::watcher;

use super::queue::Queue;
use super::shelf::{ResourceAt, Shelf};
use super::watches::spec_or_force_refresh;
use crate::reconcile::{Context, Kind, ObjectKey};

/// What one controller needs besides its inputs.
pub struct Runner {
    /// Its resources.
    pub shelf: Arc<Shelf>,
    /// What every reconcile shares.
    pub ctx: Arc<Context>,
    /// Reconciles at once.
    pub concurrency: usize,
    /// Turned true once the first listing is on the shelf.
    pub filled: tokio::sync::watch::Sender<bool>,
}

impl Runner {
    /// Runs until `stop` turns true, then lets the reconciles under way finish.
    pub async fn run<K: Kind>(
        self,
        events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
        mut routed: UnboundedReceiver<ResourceAt>,
        stop: impl Future<Output = ()>,
    ) {
        let mut events = std::pin::pin!(events);
        let mut stop = std::pin::pin!(stop);
        let mut queue = Queue::default();
        let mut running = FuturesUnordered::new();
        // The places listed so far while a (re)list is under way.
        let mut listing: Option<HashSet<ResourceAt>> = None;
        let mut watching = true;
        loop {
            while running.len() < self.concurrency.max(1) {
                let Some(at) = queue.start() else { break };
                match self.shelf.get::<K>(&at) {
                    Some(resource) => running.push(reconcile(resource, self.ctx.clone(), at)),
                    // Deleted since it was queued (a due wake, a Secret change): what was kept
                    // for it goes, as a reconcile of a missing object did in kube-runtime.
                    None => {
                        forget::<K>(&self.ctx, &at);
                        queue.finish(&at);
                    }
                }
            }
            tokio::select! {
                () = &mut stop => break,
                Some(at) = running.next(), if !running.is_empty() => queue.finish(&at),
                event = events.next(), if watching => match event {
                    Some(Ok(event)) => self.observe(event, &mut listing, &mut queue),
                    Some(Err(error)) => tracing::warn!(kind = K::KIND, %error, "watch failed; retrying"),
                    None => watching = false,
                },
                Some(at) = routed.next() => queue.push(at),
            }
        }
        while running.next().await.is_some() {}
    }

    /// Applies one watch event to the shelf and the queue.
    fn observe<K: Kind>(
        &self,
        event: watcher::Event<K>,
        listing: &mut Option<HashSet<ResourceAt>>,
        queue: &mut Queue,
    ) {
        match event {
            watcher::Event::Init => *listing = Some(HashSet::new()),
            watcher::Event::InitApply(resource) => {
                let at = ResourceAt::of(&resource);
                if let Some(listed) = listing.as_mut() {
                    listed.insert(at.clone());
                }
                self.keep(at, &resource, queue);
            }
            watcher::Event::InitDone => {
                if let Some(listed) = listing.take() {
                    for at in self.shelf.keep_only(&listed) {
                        forget::<K>(&self.ctx, &at);
                    }
                }
                self.filled.send_replace(true);
            }
            watcher::Event::Apply(resource) => {
                self.keep(ResourceAt::of(&resource), &resource, queue)
            }
            watcher::Event::Delete(resource) => {
                let at = ResourceAt::of(&resource);
                self.shelf.remove(&at);
                forget::<K>(&self.ctx, &at);
            }
        }
    }

    /// Shelves `resource` and queues it when what triggers a reconcile changed (status writes
    /// by vaultsync itself do not).
    fn keep<K: Kind>(&self, at: ResourceAt, resource: &K, queue: &mut Queue) {
        self.shelf.put(at.clone(), resource);
        let key = ObjectKey::of(resource);
        if self
            .ctx
            .schedule
            .trigger_changed(&key, spec_or_force_refresh(resource))
        {
            queue.push(at);
        }
    }
}

/// Reconciles `resource` and says where it was when done.
async fn reconcile<K: Kind>(resource: K, ctx: Arc<Context>, at: ResourceAt) -> ResourceAt {
    super::reconcile_and_wake(Arc::new(resource), ctx).await;
    at
}

/// After a resource is gone, drops its schedule entry, feed interest and per-object metrics.
fn forget<K: Kind>(ctx: &Context, at: &ResourceAt) {
    let (namespace, name) = (at.namespace(), at.name());
    let uid = ctx.schedule.forget(K::KIND, namespace, name);
    ctx.feed.forget(K::KIND, namespace, name, uid.as_deref());
    ctx.metrics.forget_object(K::KIND, namespace, name);
    ctx.metrics
        .set_managed_secrets(K::KIND, ctx.schedule.managed_count(K::KIND) as i64);
}
