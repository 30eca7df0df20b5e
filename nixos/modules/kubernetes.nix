# Kubernetes prerequisites for kubeadm-managed nodes: containerd (CRI),
# kernel modules and sysctls, kubeadm/kubelet/kubectl, crictl (with
# /etc/crictl.yaml), a kubelet unit equivalent to upstream kubeadm's
# 10-kubeadm.conf drop-in, and the kubelet's swap settings as a
# KubeletConfiguration drop-in. No cluster is
# created here: `kubeadm init` / `kubeadm join` run later (e.g. from Ansible).
{
  lib,
  pkgs,
  nixlabSettings,
  ...
}:
let
  s = nixlabSettings;
  swapEnabled = s.swapSizeGb > 0;
  cniBinDir = "/opt/cni/bin";
  kubeletDropInDir = "/etc/kubernetes/kubelet.conf.d";

  # What the kubelet (mounts, iptables, conntrack, nsenter, ...) and kubeadm's
  # preflight checks run.
  kubeTools = with pkgs; [
    kubernetes # kubeadm, kubelet, kubectl
    cri-tools # crictl
    containerd
    util-linux # mount, umount, nsenter, findmnt, losetup
    iproute2 # ip
    iptables
    ethtool
    socat
    conntrack-tools # conntrack
    kmod # modprobe
    coreutils
    findutils
    gnugrep
    gnused
    gawk
    e2fsprogs
    nfs-utils # mount.nfs for NFS volumes
    openssl # kube-init.sh: the CA's discovery hash (kubeadm's pubkeypin)
    procps
    systemd
  ];
in
{
  boot.kernelModules = [
    "overlay"
    "br_netfilter"
  ];
  boot.kernel.sysctl = {
    "net.bridge.bridge-nf-call-iptables" = 1;
    "net.bridge.bridge-nf-call-ip6tables" = 1;
    "net.ipv4.ip_forward" = 1;
  };

  # A lab cluster needs many node-to-node ports (API server, kubelet, etcd,
  # NodePorts, the CNI's overlay) and kube-proxy manages its own rules: leave
  # the host firewall off by default. An extra module can turn it back on.
  networking.firewall.enable = lib.mkDefault false;

  # containerd 2.x (2.2 in nixpkgs), config version 3. `settings` is freeform
  # TOML (pkgs.formats.toml); the nixpkgs module only renders it, checks it at
  # build time with `containerd -c <file> config dump` and passes it as
  # --config. Its own defaults are the old layout: version = 2 and
  # plugins."io.containerd.grpc.v1.cri" with cni.bin_dir = <cni-plugins>/bin
  # (mkOptionDefault) and, only with ZFS, containerd.snapshotter = "zfs".
  # Forcing the whole value drops exactly those (a plain version = 3 would
  # conflict with the module's version = 2); the module needs nothing else
  # from it. Extra modules add keys with `settings = lib.mkForce { ... }`:
  # definitions at the same priority are merged.
  virtualisation.containerd = {
    enable = true;
    settings = lib.mkForce {
      version = 3;
      plugins."io.containerd.cri.v1.runtime" = {
        containerd = {
          default_runtime_name = "runc";
          runtimes.runc = {
            runtime_type = "io.containerd.runc.v2";
            # The kubelet uses the systemd cgroup driver (kubeadm's default).
            options.SystemdCgroup = true;
          };
        };
        # CNIs such as Flannel install their binary into /opt/cni/bin and
        # expect bridge, portmap, host-local, ... next to it.
        cni = {
          bin_dirs = [ cniBinDir ];
          conf_dir = "/etc/cni/net.d";
        };
      };
    };
  };

  # Link nixpkgs' CNI plugins into /opt/cni/bin at boot. Files a CNI installed
  # itself (real files, not our symlinks) are left alone.
  systemd.services.nixlab-cni-plugins = {
    description = "nixlab: link nixpkgs CNI plugins into ${cniBinDir}";
    wantedBy = [ "multi-user.target" ];
    before = [
      "containerd.service"
      "kubelet.service"
    ];
    path = [ pkgs.coreutils ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
    };
    script = ''
      mkdir -p ${cniBinDir}
      for src in ${pkgs.cni-plugins}/bin/*; do
        dst=${cniBinDir}/"$(basename "$src")"
        if [ ! -e "$dst" ] || [ -L "$dst" ]; then
          ln -sfn "$src" "$dst"
        fi
      done
    '';
  };
  systemd.services.containerd = {
    wants = [ "nixlab-cni-plugins.service" ];
    after = [ "nixlab-cni-plugins.service" ];
  };

  environment.systemPackages = kubeTools;

  # crictl talks to containerd without flags (crictl's config file,
  # /etc/crictl.yaml: runtime-endpoint / image-endpoint).
  environment.etc."crictl.yaml".text = ''
    runtime-endpoint: unix:///run/containerd/containerd.sock
    image-endpoint: unix:///run/containerd/containerd.sock
  '';

  # Swap: with swapSizeGb > 0 the node has a swap LV, and the kubelet refuses
  # to start on a host with swap unless its KubeletConfiguration says
  # failSwapOn: false (the --fail-swap-on flag is deprecated in favour of the
  # config file). That goes into a drop-in read through --config-dir
  # (KEP-3983: alpha in 1.28, beta and on by default since 1.30, GA in 1.35;
  # files ending in .conf, merged over --config in alphanumeric order), so
  # it also holds over the config.yaml kubeadm writes. swapBehavior NoSwap:
  # pods get no swap, only system daemons can be swapped. The directory
  # exists with or without the file, so --config-dir always names one.
  systemd.tmpfiles.rules = [ "d ${kubeletDropInDir} 0755 root root -" ];
  environment.etc."kubernetes/kubelet.conf.d/50-nixlab-swap.conf" = lib.mkIf swapEnabled {
    # A copied regular file, not a link into the store: the kubelet reads
    # regular .conf files from the directory.
    mode = "0644";
    text = ''
      apiVersion: kubelet.config.k8s.io/v1beta1
      kind: KubeletConfiguration
      failSwapOn: false
      memorySwap:
        swapBehavior: NoSwap
    '';
  };

  # The kubelet as kubeadm expects it (upstream 10-kubeadm.conf): kubeadm writes
  # /var/lib/kubelet/config.yaml and kubeadm-flags.env during init/join and then
  # (re)starts the unit. Until then the unit is skipped (condition) instead of
  # crash-looping.
  systemd.services.kubelet = {
    description = "kubelet: The Kubernetes Node Agent";
    documentation = [ "https://kubernetes.io/docs/" ];
    wantedBy = [ "multi-user.target" ];
    # Ordered after containerd and pulling it in, not bound to it: a
    # containerd restart must not restart the kubelet (which reconnects on
    # its own). Upstream's kubelet.service (kubernetes/release,
    # cmd/krel/templates/latest/kubelet/kubelet.service) has only
    # Wants=/After=network-online.target and no Requires= at all.
    wants = [
      "network-online.target"
      "containerd.service"
    ];
    after = [
      "network-online.target"
      "containerd.service"
    ];
    path = kubeTools;
    unitConfig = {
      ConditionPathExists = "/var/lib/kubelet/config.yaml";
      StartLimitIntervalSec = 0;
    };
    environment = {
      KUBELET_KUBECONFIG_ARGS = "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf";
      KUBELET_CONFIG_ARGS = "--config=/var/lib/kubelet/config.yaml --config-dir=${kubeletDropInDir}";
    };
    serviceConfig = {
      # Written by kubeadm (KUBELET_KUBEADM_ARGS) and by the user
      # (KUBELET_EXTRA_ARGS), as on upstream's packages.
      EnvironmentFile = [
        "-/var/lib/kubelet/kubeadm-flags.env"
        "-/etc/default/kubelet"
      ];
      ExecStart = "${pkgs.kubernetes}/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS";
      Restart = "always";
      RestartSec = 10;
    };
  };
}
