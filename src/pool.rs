//! `Pool`: instances of one compiled plug-in handed out to many threads.

use crate::{CompiledPlugin, Error, Plugin};
use std::{
    ops::{Deref, DerefMut},
    sync::{Arc, Condvar, Mutex},
};

/// Hands out instances of one [`CompiledPlugin`]; an instance returns to the pool
/// when its [`PooledPlugin`] is dropped. At most `max_instances` exist at once;
/// [`Pool::get`] waits for a free one beyond that.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    compiled: CompiledPlugin,
    max_instances: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Plugin>,
    live: usize,
}

impl Pool {
    /// A pool of at most `max_instances` (at least 1) instances of `compiled`.
    pub fn new(compiled: CompiledPlugin, max_instances: usize) -> Self {
        Pool {
            shared: Arc::new(Shared {
                compiled,
                max_instances: max_instances.max(1),
                state: Mutex::new(PoolState {
                    idle: Vec::new(),
                    live: 0,
                }),
                returned: Condvar::new(),
            }),
        }
    }

    /// An instance: an idle one, a new one, or (at the limit) the next one returned.
    pub fn get(&self) -> Result<PooledPlugin, Error> {
        let shared = &self.shared;
        let mut state = shared
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("the plug-in pool is poisoned by a panic"))?;
        loop {
            if let Some(plugin) = state.idle.pop() {
                return Ok(self.wrap(plugin));
            }
            if state.live < shared.max_instances {
                state.live += 1;
                drop(state);
                return match Plugin::new_from_compiled(&shared.compiled) {
                    Ok(plugin) => Ok(self.wrap(plugin)),
                    Err(e) => {
                        if let Ok(mut state) = shared.state.lock() {
                            state.live -= 1;
                        }
                        shared.returned.notify_one();
                        Err(e)
                    }
                };
            }
            state = shared
                .returned
                .wait(state)
                .map_err(|_| anyhow::anyhow!("the plug-in pool is poisoned by a panic"))?;
        }
    }

    /// Instances in existence (idle or handed out).
    pub fn live_instances(&self) -> usize {
        self.shared.state.lock().map_or(0, |s| s.live)
    }

    fn wrap(&self, plugin: Plugin) -> PooledPlugin {
        PooledPlugin {
            plugin: Some(plugin),
            pool: self.clone(),
        }
    }
}

/// An instance on loan from a [`Pool`]; use it as a [`Plugin`].
pub struct PooledPlugin {
    plugin: Option<Plugin>,
    pool: Pool,
}

impl Deref for PooledPlugin {
    type Target = Plugin;
    fn deref(&self) -> &Plugin {
        self.plugin.as_ref().expect("present until drop")
    }
}

impl DerefMut for PooledPlugin {
    fn deref_mut(&mut self) -> &mut Plugin {
        self.plugin.as_mut().expect("present until drop")
    }
}

impl Drop for PooledPlugin {
    fn drop(&mut self) {
        let Some(plugin) = self.plugin.take() else {
            return;
        };
        let shared = &self.pool.shared;
        if let Ok(mut state) = shared.state.lock() {
            state.idle.push(plugin);
        }
        shared.returned.notify_one();
    }
}
