//! EC2 instance sizes (vCPU, memory) and what a node leaves to pods.
//!
//! Source: AWS "Amazon EC2 instance types" specifications (general purpose m5/m6i/m7i, compute
//! optimized c5, memory optimized r5), https://aws.amazon.com/ec2/instance-types/, as of 2026-11.
//! Allocatable share: EKS AMIs reserve CPU and memory for the kubelet and system
//! (kube-reserved): 6% of the first core, 1% of the second, 0.5% of cores 3–4, 0.25% above; memory
//! 255 MiB + 11 MiB per pod the instance can run, plus a 100 MiB eviction threshold
//! (amazon-eks-ami bootstrap logic). We use the max-pods of the ENI formula as published in
//! amazon-eks-ami's eni-max-pods.txt.

pub struct InstanceType {
    pub name: &'static str,
    pub vcpu: u32,
    pub memory_gib: f64,
    pub max_pods: u32,
}

const fn i(name: &'static str, vcpu: u32, memory_gib: f64, max_pods: u32) -> InstanceType {
    InstanceType { name, vcpu, memory_gib, max_pods }
}

pub const TYPES: &[InstanceType] = &[
    i("m5.large", 2, 8.0, 29),
    i("m5.xlarge", 4, 16.0, 58),
    i("m5.2xlarge", 8, 32.0, 58),
    i("m5.4xlarge", 16, 64.0, 234),
    i("m5.8xlarge", 32, 128.0, 234),
    i("m5.12xlarge", 48, 192.0, 234),
    i("m5.16xlarge", 64, 256.0, 737),
    i("m5.24xlarge", 96, 384.0, 737),
    i("m6i.large", 2, 8.0, 29),
    i("m6i.xlarge", 4, 16.0, 58),
    i("m6i.2xlarge", 8, 32.0, 58),
    i("m6i.4xlarge", 16, 64.0, 234),
    i("m6i.8xlarge", 32, 128.0, 234),
    i("m6i.12xlarge", 48, 192.0, 234),
    i("m6i.16xlarge", 64, 256.0, 737),
    i("m6i.24xlarge", 96, 384.0, 737),
    i("m6i.32xlarge", 128, 512.0, 737),
    i("m7i.large", 2, 8.0, 29),
    i("m7i.xlarge", 4, 16.0, 58),
    i("m7i.2xlarge", 8, 32.0, 58),
    i("m7i.4xlarge", 16, 64.0, 234),
    i("m7i.8xlarge", 32, 128.0, 234),
    i("m7i.12xlarge", 48, 192.0, 234),
    i("m7i.16xlarge", 64, 256.0, 737),
    i("m7i.24xlarge", 96, 384.0, 737),
    i("m7i.48xlarge", 192, 768.0, 737),
    i("c5.large", 2, 4.0, 29),
    i("c5.xlarge", 4, 8.0, 58),
    i("c5.2xlarge", 8, 16.0, 58),
    i("c5.4xlarge", 16, 32.0, 234),
    i("c5.9xlarge", 36, 72.0, 234),
    i("c5.12xlarge", 48, 96.0, 234),
    i("c5.18xlarge", 72, 144.0, 737),
    i("c5.24xlarge", 96, 192.0, 737),
    i("r5.large", 2, 16.0, 29),
    i("r5.xlarge", 4, 32.0, 58),
    i("r5.2xlarge", 8, 64.0, 58),
    i("r5.4xlarge", 16, 128.0, 234),
    i("r5.8xlarge", 32, 256.0, 234),
    i("r5.12xlarge", 48, 384.0, 234),
    i("r5.16xlarge", 64, 512.0, 737),
    i("r5.24xlarge", 96, 768.0, 737),
];

pub fn find(name: &str) -> Option<&'static InstanceType> {
    TYPES.iter().find(|t| t.name == name)
}

impl InstanceType {
    /// CPU cores left for pods after kube-reserved.
    pub fn allocatable_cores(&self) -> f64 {
        let mut reserved_milli = 0.0;
        for core in 1..=self.vcpu {
            reserved_milli += match core {
                1 => 60.0,
                2 => 10.0,
                3 | 4 => 5.0,
                _ => 2.5,
            };
        }
        f64::from(self.vcpu) - reserved_milli / 1000.0
    }

    /// Memory (GiB) left for pods after kube-reserved and the eviction threshold.
    pub fn allocatable_memory_gib(&self) -> f64 {
        let reserved_mib = 255.0 + 11.0 * f64::from(self.max_pods) + 100.0;
        self.memory_gib - reserved_mib / 1024.0
    }
}

/// A DaemonSet pod that every node of the deployment runs, and what it requests: the scheduler
/// subtracts these from a node's allocatable before any notebook or worker lands there.
pub struct NodeDaemon {
    pub name: &'static str,
    pub cpu_milli: u32,
    pub memory_mib: u32,
    pub source: &'static str,
}

/// The DaemonSets on every node of an EKS cluster set up as this deployment sets it up.
/// (Z2JH's continuous image puller also runs on every node but requests nothing; its pause
/// containers have no resources set.)
pub const NODE_DAEMONS: &[NodeDaemon] = &[
    NodeDaemon {
        name: "aws-node (Amazon VPC CNI, EKS default add-on)",
        cpu_milli: 25,
        memory_mib: 0,
        source: "aws/amazon-vpc-cni-k8s config/master/aws-k8s-cni.yaml: aws-node requests cpu 25m",
    },
    NodeDaemon {
        name: "kube-proxy (EKS default add-on)",
        cpu_milli: 100,
        memory_mib: 0,
        source: "EKS kube-proxy add-on DaemonSet: requests cpu 100m",
    },
    NodeDaemon {
        name: "ebs-csi-node (aws-ebs-csi-driver chart)",
        cpu_milli: 10,
        memory_mib: 40,
        source: "aws-ebs-csi-driver chart 2.64.0 values.yaml node.resources.requests (sidecars request nothing)",
    },
];

/// CPU cores and GiB of memory the node DaemonSets take from every node.
pub fn daemon_requests() -> (f64, f64) {
    let cpu: u32 = NODE_DAEMONS.iter().map(|d| d.cpu_milli).sum();
    let mem: u32 = NODE_DAEMONS.iter().map(|d| d.memory_mib).sum();
    (f64::from(cpu) / 1000.0, f64::from(mem) / 1024.0)
}

impl InstanceType {
    /// CPU cores a notebook or worker pod can request: allocatable less the node DaemonSets.
    pub fn pod_cores(&self) -> f64 {
        self.allocatable_cores() - daemon_requests().0
    }

    /// GiB of memory a notebook or worker pod can request: allocatable less the node DaemonSets.
    pub fn pod_memory_gib(&self) -> f64 {
        self.allocatable_memory_gib() - daemon_requests().1
    }
}
