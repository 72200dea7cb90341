//! /dev/devringctl: creates and destroys pipes (root only, 0600).
//!
//! The table of pipes is under a sleep lock on the control node (creating
//! a node sleeps); a destroy runs with it dropped, the name kept.  A
//! destroy waits (2 s) only for calls running in the pipe now; if one does
//! not leave, the pipe stays closed and listed, and
//! DEVRING_IOC_PIPE_DESTROY answers ETIMEDOUT (try again).

use devref::{Client, Created, DeviceRef, Error, IoctlArg, Mode, Perms, Result, SleepLock};
use devring_rings::ctl::{decode_create, pipe_name, MODE_PCPU};

use crate::abi::{
    PipeReq, DEVRING_IOC_PIPE_CREATE, DEVRING_IOC_PIPE_DESTROY, PIPES_MAX, PIPE_NAMELEN,
};
use crate::node::Node;
use crate::pipe::Pipe;

/// How long a pipe's destroy waits for calls inside it (less than
/// module.rs' unload timeout, which may wait for this control call).
const DESTROY_TIMEOUT_MS: i32 = 2000;
/// The directory of pipe nodes under /dev.
const PREFIX: &[u8] = b"devring-pipe/";

struct Entry {
    name: [u8; PIPE_NAMELEN],
    /// None while a destroy runs (with the lock dropped): the name stays
    /// taken until it is done.
    dev: Option<Created<Node>>,
}

pub struct Ctl {
    pipes: SleepLock<[Option<Entry>; PIPES_MAX]>,
}

impl Default for Ctl {
    fn default() -> Self {
        Ctl {
            pipes: SleepLock::new([const { None }; PIPES_MAX]),
        }
    }
}

impl Ctl {
    pub fn ioctl(
        &self,
        client: &Client<Node>,
        dev: &DeviceRef<'_>,
        arg: &mut IoctlArg<'_>,
    ) -> Result<()> {
        match arg.cmd() {
            DEVRING_IOC_PIPE_CREATE => {
                let mut req: PipeReq = arg.read()?;
                self.create(client, dev, &mut req)?;
                arg.write(&req)
            }
            DEVRING_IOC_PIPE_DESTROY => {
                let req: PipeReq = arg.read()?;
                self.destroy(client, dev, &req)
            }
            _ => Err(Error::NotTty),
        }
    }

    fn create(&self, client: &Client<Node>, dev: &DeviceRef<'_>, req: &mut PipeReq) -> Result<()> {
        let name = pipe_name(&req.name).map_err(|_| Error::Invalid)?;
        let c = decode_create(req.mode, req.perms, req.slots, req.buf_size)
            .map_err(|_| Error::Invalid)?;
        let mode = if c.mode == MODE_PCPU {
            Mode::Pcpu
        } else {
            Mode::Counted
        };
        let (perms, layout) = (c.perms, c.layout);
        let (slots, buf_size) = (layout.slots, layout.buf_size);
        let pipe = Pipe::new(layout).ok_or(Error::Invalid)?;
        // "devring-pipe/<name>" and its NUL.
        let mut path = [0u8; PREFIX.len() + PIPE_NAMELEN];
        for (d, s) in path.iter_mut().zip(PREFIX.iter().chain(name)) {
            *d = *s;
        }
        let path = core::ffi::CStr::from_bytes_until_nul(&path).map_err(|_| Error::Invalid)?;
        let mut pipes = self.pipes.lock(dev)?;
        if pipes.iter().flatten().any(|e| e.name == req.name) {
            return Err(Error::Exists);
        }
        let free = pipes
            .iter_mut()
            .find(|e| e.is_none())
            .ok_or(Error::Errno(28))?; // ENOSPC
        let perms = Perms {
            uid: req.uid,
            gid: req.gid,
            mode: perms as i32,
        };
        let created = client.create(path, mode, perms, Node::Pipe(pipe))?;
        *free = Some(Entry {
            name: req.name,
            dev: Some(created),
        });
        devref::console!(
            "devring: pipe /dev/{} created ({}, {} slots of {} bytes)",
            core::str::from_utf8(path.to_bytes()).unwrap_or("?"),
            if req.mode == 0 { "pcpu" } else { "counted" },
            slots,
            buf_size
        );
        req.slots = slots;
        req.buf_size = buf_size;
        Ok(())
    }

    /// The destroy runs with the table unlocked: it may wait (up to 2 s)
    /// for calls in the pipe, and other pipes' requests, and an unload,
    /// must not wait behind it.
    fn destroy(&self, client: &Client<Node>, dev: &DeviceRef<'_>, req: &PipeReq) -> Result<()> {
        pipe_name(&req.name).map_err(|_| Error::Invalid)?;
        let token = {
            let mut pipes = self.pipes.lock(dev)?;
            let entry = pipes
                .iter_mut()
                .flatten()
                .find(|e| e.name == req.name)
                .ok_or(Error::Errno(2))?; // ENOENT
                                          // Busy: another destroy of it is running.
            entry.dev.take().ok_or(Error::Busy)?
        };
        let r = client.destroy(token, DESTROY_TIMEOUT_MS);
        let mut pipes = match self.pipes.lock(dev) {
            Ok(p) => p,
            // The control node is closing (unload): the unregister takes
            // whatever is left.
            Err(e) => return r.map_err(|(_, _)| e),
        };
        let Some(slot) = pipes
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.name == req.name))
        else {
            return r.map_err(|(_, e)| e);
        };
        match r {
            Ok(()) => {
                *slot = None;
                Ok(())
            }
            Err((token, e)) => {
                // Closed, not torn down: listed until a destroy succeeds.
                if let Some(entry) = slot.as_mut() {
                    entry.dev = Some(token);
                }
                Err(e)
            }
        }
    }
}
