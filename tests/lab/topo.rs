//! The lab's network: three throwaway namespaces, caller – middlebox – callee.
//!
//! ```text
//!  caller 10.77.1.2 ──veth── 10.77.1.1 [v1] middlebox [v2] 10.77.2.1 ──veth── 10.77.2.2 callee
//!         q1 out, q2 in          q3: forward (plain routing) or input (relay)       q1 out, q2 in
//! ```
//!
//! Both ends route through the middlebox, which forwards IPv4. IPv6 is disabled everywhere so
//! the kernel adds nothing of its own to the captures. iptables rules (NFQUEUE target) in each
//! namespace send UDP to the queue numbers above (see impair.rs): in the ends, outgoing
//! packets to queue 1 (before the probe for their own streams) and incoming ones to queue 2
//! (after the probe for the other end's streams); in the middlebox, queue 3 sits between the
//! probe's ingress capture and its egress capture: on the forward hook when it routes, on the
//! input hook when a relay (rtpengine) receives the media. On drop every process inside the
//! namespaces is killed and the namespaces are deleted. Needs root, iproute2 and iptables.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The three namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Caller,
    Middlebox,
    Callee,
}

pub const CALLER_IP: &str = "10.77.1.2";
pub const CALLEE_IP: &str = "10.77.2.2";
/// The middlebox's address on the caller's side, where rtpengine listens.
pub const MB_IP: &str = "10.77.1.1";

/// Where the middlebox's queue 3 hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MbHook {
    /// Routed packets (plain IP forwarding).
    Forward,
    /// Packets delivered to a local relay on the lab's interfaces.
    Input,
}

pub struct Lab {
    names: [String; 3],
}

impl Lab {
    pub fn new(tag: &str, hook: MbHook) -> Result<Lab, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let base = format!("rl-{tag}-{}-{n}", std::process::id());
        let lab = Lab {
            names: [format!("{base}c"), format!("{base}m"), format!("{base}e")],
        };
        // Any failure below drops `lab`, which deletes what was created so far.
        for ns in &lab.names {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let (c, m, e) = (&lab.names[0], &lab.names[1], &lab.names[2]);
        for (end, dev, end_ip, mb_ip) in [
            (c, "v1", CALLER_IP, MB_IP),
            (e, "v2", CALLEE_IP, "10.77.2.1"),
        ] {
            ip(&[
                "-n", end, "link", "add", "v0", "type", "veth", "peer", "name", dev, "netns", m,
            ])?;
            for (ns, d) in [(end, "v0"), (m, dev)] {
                let key = format!("net.ipv6.conf.{d}.disable_ipv6=1");
                run(lab.command(lab.node_of(ns), "sysctl").args(["-qw", &key]))?;
                ip(&["-n", ns, "link", "set", d, "up"])?;
            }
            ip(&[
                "-n",
                end,
                "addr",
                "add",
                &format!("{end_ip}/24"),
                "dev",
                "v0",
            ])?;
            ip(&["-n", m, "addr", "add", &format!("{mb_ip}/24"), "dev", dev])?;
            ip(&["-n", end, "route", "add", "default", "via", mb_ip])?;
        }
        run(lab
            .command(Node::Middlebox, "sysctl")
            .args(["-qw", "net.ipv4.ip_forward=1"]))?;
        // The nft `queue` statement needs CONFIG_NFT_QUEUE, which CI's kernel lacks; the
        // xtables NFQUEUE target (through iptables' nft backend) is built in.
        let q = |chain: &str, dir: &str, dev: &str, n: &str| {
            [
                "-A",
                chain,
                dir,
                dev,
                "-p",
                "udp",
                "-j",
                "NFQUEUE",
                "--queue-num",
                n,
            ]
            .map(str::to_owned)
            .to_vec()
        };
        let mut rules = vec![
            (Node::Caller, q("OUTPUT", "-o", "v0", "1")),
            (Node::Caller, q("INPUT", "-i", "v0", "2")),
            (Node::Callee, q("OUTPUT", "-o", "v0", "1")),
            (Node::Callee, q("INPUT", "-i", "v0", "2")),
        ];
        match hook {
            MbHook::Forward => rules.push((Node::Middlebox, q("FORWARD", "-i", "v1", "3"))),
            MbHook::Input => rules.push((Node::Middlebox, q("INPUT", "-i", "v1", "3"))),
        }
        let last = rules[rules.len() - 1].1.clone();
        rules.push((
            Node::Middlebox,
            last.iter().map(|a| a.replace("v1", "v2")).collect(),
        ));
        for (node, args) in rules {
            run(lab.command(node, "iptables").args(args))?;
        }
        Ok(lab)
    }

    fn node_of(&self, ns: &str) -> Node {
        match self.names.iter().position(|n| n == ns) {
            Some(0) => Node::Caller,
            Some(1) => Node::Middlebox,
            _ => Node::Callee,
        }
    }

    pub fn name(&self, node: Node) -> &str {
        &self.names[node as usize]
    }

    /// The interface index of `dev` in the node's namespace: what a Linux cooked v2 capture
    /// (`tcpdump -i any`) records instead of its name.
    pub fn ifindex(&self, node: Node, dev: &str) -> Result<u32, String> {
        let out = Command::new("ip")
            .args(["-n", self.name(node), "-o", "link", "show", dev])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split(':')
            .next()
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| format!("ip link show {dev}: {text}"))
    }

    /// `program` run inside the node's namespace.
    pub fn command(&self, node: Node, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.name(node)]).arg(program);
        cmd
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.names {
            // Only processes inside our own, uniquely named namespaces.
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    run(Command::new("ip").args(args))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
