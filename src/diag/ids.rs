//! The catalogue of rule ids. An id is stable and never reused; the README lists each with its
//! one-line summary (a test keeps the two in step).

pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: &str = $id;)*
        pub const ALL: &[Rule] = &[$(Rule { id: $id, name: $name, summary: $summary },)*];
    };
}

rules! {
    YAML_SYNTAX = "PR001", "yaml-syntax", "The file is not valid YAML (syntax, tabs, duplicate keys, size or alias limits).";
    SCHEMA = "PR002", "schema", "A value breaks the file's schema: unknown key, wrong type, missing field, bad enum.";
    PLACEHOLDER = "PR003", "placeholder", "A `<placeholder>` value from the walkthrough was left in.";
    ARN_FORMAT = "PR004", "arn-format", "An ARN is malformed or of the wrong service (KMS key, ACM certificate, IAM role).";
    ARN_REGION = "PR005", "arn-region", "An ARN is in another partition than the cluster's Region, or a KMS or ACM ARN in another Region.";
    ARN_ACCOUNT = "PR006", "arn-account", "KMS, ACM and IAM role ARNs name more than one AWS account.";
    ZONE_REGION = "PR007", "zone-region", "An availability zone does not belong to the cluster's Region, or the Region is unknown.";
    ZONE_LAYOUT = "PR008", "zone-layout", "Fewer than two cluster zones, or node groups not pinned to one shared zone of the cluster.";
    VERSION_QUOTED = "PR009", "version-quoted", "The Kubernetes version is not a quoted string (YAML reads 1.30 as the number 1.3).";
    VERSION_SUPPORT = "PR010", "version-support", "The Kubernetes version is unknown to EKS, within 90 days of leaving standard support or in paid extended support (warning), or past it (error).";
    AUTOSCALER_IMAGE = "PR011", "autoscaler-image", "The Cluster Autoscaler image minor differs from the cluster's Kubernetes minor.";
    AUTOSCALER_TAG = "PR012", "autoscaler-discovery", "The autoscaler's node-group discovery tag does not name this cluster.";
    NODE_SIZES = "PR013", "node-sizes", "A node group's minSize is greater than its maxSize.";
    NAME_PATTERN = "PR014", "name-pattern", "A cluster or node group name breaks eksctl's pattern [a-zA-Z][-a-zA-Z0-9]*.";
    TOKENS = "PR015", "tokens", "Tokens are not 64 hex characters, not distinct, or the API token differs between its two places.";
    PASSWORD_HASH = "PR016", "password-hash", "The admin password hash is malformed or uses fewer than 600,000 PBKDF2 iterations.";
    WORKER_PLACEMENT = "PR017", "worker-placement", "Dask worker tolerations or nodeSelector do not match the spot node group's taint and capacity type.";
    OPTION_BOUNDS = "PR018", "option-bounds", "A Dask Gateway option default lies outside its min/max bounds.";
    IMAGE_TAG = "PR019", "image-tag", "An image has no tag, or the gateway and singleuser images differ where the config says they match.";
    CAPACITY = "PR020", "capacity", "A default worker, a user's server or a user's max workers do not fit the node groups.";
    HTTPS = "PR021", "https", "HTTPS offload is configured without a well-formed ACM certificate ARN.";
    STORAGE_CLASS = "PR022", "storage-class", "Not exactly one default StorageClass, not encrypted, or not provisioned by ebs.csi.aws.com.";
    UNKNOWN_KIND = "PR023", "unknown-file", "The file's kind could not be recognised from its content.";
    INSTANCE_TYPE = "PR024", "instance-type", "An instance type is not in the project's instance data, so capacity cannot be checked.";
    CONFIG_DRIFT = "PR025", "config-drift", "An artifact says something other than the config checked with it (`-c`, or the config beside it).";
    PLAINTEXT_SECRET = "PR026", "plaintext-secret", "With --refuse-plaintext-secrets (the pre-commit hook): a token, password hash or Secret data in plaintext.";
    SPAWN_VALUES = "PR027", "spawn-values", "A singleuser value JupyterHub or KubeSpawner refuse when a server starts (memory units, extraEnv braces).";
    SECRET_REFERENCE = "PR032", "secret-reference", "With hub.existingSecret, the gateway does not read its token from that Secret's key hub.services.dask-gateway.apiToken.";
    SECRET_FREE = "PR033", "secret-free", "A values file whose secrets are in hub.existingSecret still holds a token or password hash itself (warning).";
    HOME_CLASS = "PR034", "home-class", "hub.singleuser.storageClass: clusterDefault, but storageClass is not the default class: home volumes would land on another class.";
    OPTION_HANDLER = "PR035", "option-handler", "The kept Dask Gateway option handler (daskGateway.optionHandler) cannot be read, or declares other worker bounds, default image or worker limit than daskGateway says.";
    OPTION_HANDLER_OPAQUE = "PR036", "option-handler-opaque", "A kept option handler declares worker options that cannot be read without running it: the capacity rules trust daskGateway.worker (warning).";
}

pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}
