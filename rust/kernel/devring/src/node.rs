//! Every devring node is one of three kinds; devref sees one device type.

use devref::{poll, Device, DeviceRef, Error, IoctlArg, Result, Uio};

use crate::ctl::Ctl;
use crate::pipe::{Pipe, PipeOpen};
use crate::ring::{OpenRing, Ring};

pub enum Node {
    /// /dev/devring, /dev/devring_counted: the entry-path benchmark.
    Bench(Ring),
    /// /dev/devringctl: makes and removes pipes.
    Ctl(alloc::boxed::Box<Ctl>),
    /// /dev/devring-pipe/<name>.
    Pipe(Pipe),
}

pub enum NodeOpen {
    Bench(OpenRing),
    Ctl,
    Pipe(PipeOpen),
}

impl Device for Node {
    const NAME: &'static core::ffi::CStr = c"devring";
    type Open = NodeOpen;

    fn open(&self, oflags: i32) -> Result<NodeOpen> {
        Ok(match self {
            Node::Bench(r) => NodeOpen::Bench(r.open(oflags)?),
            Node::Ctl(_) => NodeOpen::Ctl,
            Node::Pipe(p) => NodeOpen::Pipe(p.open(oflags)),
        })
    }

    fn ioctl(&self, dev: &DeviceRef<'_>, open: &NodeOpen, arg: &mut IoctlArg<'_>) -> Result<()> {
        match (self, open) {
            (Node::Bench(r), NodeOpen::Bench(o)) => r.ioctl(dev, o, arg),
            (Node::Ctl(c), NodeOpen::Ctl) => {
                // The control node exists only while the client is
                // published (module.rs), so this finds it.
                let client = crate::module::client().ok_or(Error::NoDevice)?;
                c.ioctl(client, dev, arg)
            }
            (Node::Pipe(p), NodeOpen::Pipe(o)) => p.ioctl(dev, o, arg),
            _ => Err(Error::Invalid),
        }
    }

    fn read(
        &self,
        dev: &DeviceRef<'_>,
        open: &NodeOpen,
        uio: &mut Uio<'_>,
        ioflag: i32,
    ) -> Result<()> {
        match (self, open) {
            (Node::Pipe(p), NodeOpen::Pipe(o)) => p.read(dev, o, uio, ioflag),
            _ => Err(Error::NotSupported),
        }
    }

    fn write(
        &self,
        dev: &DeviceRef<'_>,
        open: &NodeOpen,
        uio: &mut Uio<'_>,
        ioflag: i32,
    ) -> Result<()> {
        match (self, open) {
            (Node::Pipe(p), NodeOpen::Pipe(o)) => p.write(dev, o, uio, ioflag),
            _ => Err(Error::NotSupported),
        }
    }

    fn poll(&self, dev: &DeviceRef<'_>, open: &NodeOpen, events: i32) -> i32 {
        match (self, open) {
            (Node::Bench(r), NodeOpen::Bench(o)) => r.poll(dev, o, events),
            (Node::Pipe(p), NodeOpen::Pipe(o)) => p.poll(dev, o, events),
            // The control node: as devfs answers for a missing d_poll.
            _ => events & (poll::POLLIN | poll::POLLOUT | poll::POLLRDNORM | poll::POLLWRNORM),
        }
    }
}
