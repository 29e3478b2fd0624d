//! Formatting node storage with Kafka's own StorageTool and the testbed's cluster id.
//!
//! Every JVM start costs seconds of CPU on a 2-core box, so all nodes are formatted in one JVM by
//! a tiny Java program (run from source, JEP 330) that calls `kafka.tools.StorageTool.execute`
//! per node. If that cannot run (a JRE without the compiler), each node gets its own
//! `kafka.tools.StorageTool format` JVM, in parallel.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Instant;

use crate::kafka_files;
use crate::process;
use crate::{Error, Result, Testbed};

/// Formats each config given after the cluster id; exits 1 if any fails.
const FORMAT_ALL_JAVA: &str = r#"public class FormatAll {
    public static void main(String[] args) {
        int failed = 0;
        for (int i = 1; i < args.length; i++) {
            String[] fmt = {"format", "--ignore-formatted", "--cluster-id", args[0], "--config", args[i]};
            try {
                int rc = kafka.tools.StorageTool.execute(fmt, System.out);
                if (rc != 0) { System.out.println("kmedic: format of " + args[i] + " exited " + rc); failed++; }
            } catch (Throwable t) {
                System.out.println("kmedic: format of " + args[i] + " failed: " + t);
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
"#;

impl Testbed {
    /// Formats the storage of nodes `ids` with the cluster id.
    pub(crate) fn format(&self, ids: &[i32]) -> Result<()> {
        let started = Instant::now();
        match self.format_in_one_jvm(ids) {
            Ok(()) => {
                tracing::debug!(
                    ?ids,
                    secs = started.elapsed().as_secs_f64(),
                    "formatted in one JVM"
                );
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "formatting in one JVM failed: one StorageTool JVM per node");
                self.format_per_node(ids)
            }
        }
    }

    fn node_files(&self, id: i32) -> Result<(PathBuf, PathBuf, String)> {
        let nodes = self.lock();
        let node = nodes.get(&id).ok_or(Error::UnknownNode(id))?;
        Ok((node.props(), node.dir.join("format.log"), node.name()))
    }

    fn spawn_logged(
        &self,
        mut cmd: std::process::Command,
        out: &PathBuf,
        what: &str,
    ) -> Result<Child> {
        let log = fs::File::create(out)
            .map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| Error::io(format!("opening {}", out.display()), e))?;
        cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
        self.spawner
            .spawn(cmd)
            .map_err(|e| Error::io(format!("running java ({what})"), e))
    }

    fn format_in_one_jvm(&self, ids: &[i32]) -> Result<()> {
        let src = self.root.join("FormatAll.java");
        fs::write(&src, FORMAT_ALL_JAVA)
            .map_err(|e| Error::io(format!("writing {}", src.display()), e))?;
        let out = self.root.join("format.log");
        let mut cmd = kafka_files::java(&self.jars, 128, None);
        cmd.arg(&src).arg(&self.cluster_id);
        for id in ids {
            cmd.arg(self.node_files(*id)?.0);
        }
        let mut child = self.spawn_logged(cmd, &out, "FormatAll")?;
        let status = child
            .wait()
            .map_err(|e| Error::io("waiting for FormatAll", e))?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::Process {
                what: "FormatAll".into(),
                detail: format!("exited with {status}:\n{}", process::log_tail(&out, 20)),
            })
        }
    }

    fn format_per_node(&self, ids: &[i32]) -> Result<()> {
        let mut running = Vec::new();
        for id in ids {
            let (props, out, name) = self.node_files(*id)?;
            let mut cmd = kafka_files::java(&self.jars, 128, None);
            cmd.arg("kafka.tools.StorageTool")
                .arg("format")
                .arg("--ignore-formatted")
                .arg("--cluster-id")
                .arg(&self.cluster_id)
                .arg("--config")
                .arg(&props);
            let child = self.spawn_logged(cmd, &out, &format!("StorageTool for {name}"))?;
            running.push((name, out, child));
        }
        let mut failures = Vec::new();
        for (name, out, mut child) in running {
            match child.wait() {
                Ok(s) if s.success() => {}
                Ok(s) => failures.push(format!(
                    "{name}: StorageTool format exited with {s}:\n{}",
                    process::log_tail(&out, 20)
                )),
                Err(e) => failures.push(format!("{name}: waiting for StorageTool: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Process {
                what: "formatting node storage".into(),
                detail: failures.join("\n"),
            })
        }
    }
}
