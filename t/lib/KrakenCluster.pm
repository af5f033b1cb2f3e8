package KrakenCluster;

# Several nginx hosts on one machine: two fronts and three engines, each
# in its own network namespace, joined by two bridges in a "lan"
# namespace, with addresses that exist only there: the public network
# (10.77.0.0/24: the clients, the fronts' RPC, the engines' media) and
# the private one (10.77.1.0/24: the fronts and the engines' RPC, the
# operators). One more namespace for the clients (public only), one for
# an operator (both: it publishes straight at an engine, and reads its
# /kraken-info). The nginx configs are conf/cluster/* as they are
# (KRAKEN_CLUSTER_FALLBACK=1: the fronts balance with nginx's own
# `hash $kraken_room consistent` instead of kraken_balance).
#
# Needs root (ip netns). Everything is removed at the end, also when the
# test dies or is interrupted (END, INT/TERM/HUP); leftovers of earlier
# runs older than an hour are removed at the start. Core Perl only.

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Select;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

use KrakenTest;

# namespaces are named "$NS_PREFIX-EPOCH-PID-ROLE"
our $NS_PREFIX = 'kcl';
our $STALE = 3600;

# addr: on the public network, rpc: on the private one
our %HOSTS = (
    front1 => { addr => '10.77.0.11', rpc => '10.77.1.11',
                conf => 'front1.conf',
                pid => 'logs/front1.pid', log => 'logs/front1.error.log' },
    front2 => { addr => '10.77.0.12', rpc => '10.77.1.12',
                conf => 'front2.conf',
                pid => 'logs/front2.pid', log => 'logs/front2.error.log' },
    engA   => { addr => '10.77.0.21', rpc => '10.77.1.21',
                conf => 'engine-a.conf',
                pid => 'logs/engine-a.pid', log => 'logs/engine-a.error.log' },
    engB   => { addr => '10.77.0.22', rpc => '10.77.1.22',
                conf => 'engine-b.conf',
                pid => 'logs/engine-b.pid', log => 'logs/engine-b.error.log' },
    engC   => { addr => '10.77.0.23', rpc => '10.77.1.23',
                conf => 'engine-c.conf',
                pid => 'logs/engine-c.pid', log => 'logs/engine-c.error.log' },
    client => { addr => '10.77.0.50' },
    ops    => { addr => '10.77.0.5', rpc => '10.77.1.5' },
);
our @NGINX_HOSTS = qw(engA engB engC front1 front2);
our @ENGINES = qw(engA engB engC);
our $PORT = 7000;

my $JSON = JSON::PP->new->canonical->allow_nonref;
my @LIVE;           # clusters to tear down at exit


# undef when this machine can run the cluster, else why not
sub unavailable {
    return 'needs root (ip netns)' if $> != 0;
    return 'no ip(8)' if system('ip -V >/dev/null 2>&1') != 0;
    my $probe = "$NS_PREFIX-probe-$$";
    if (system("ip netns add $probe >/dev/null 2>&1") != 0) {
        return 'ip netns add fails here';
    }
    my $ok = system("ip -n $probe link add kbr0 type bridge"
                    . " >/dev/null 2>&1") == 0;
    system("ip netns del $probe >/dev/null 2>&1");
    return $ok ? undef : 'no bridge in a network namespace';
}


sub sh {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    die "failed ($?): $cmd\n$out" if $? != 0;
    return $out;
}


sub our_namespaces {
    my ($match) = @_;
    my @ns;
    for my $line (split /\n/, `ip netns list 2>/dev/null`) {
        my ($name) = split ' ', $line;
        push @ns, $name if defined $name && $name =~ $match;
    }
    return @ns;
}


# kills whatever runs in a namespace, then deletes it
sub remove_namespace {
    my ($ns) = @_;
    for (1 .. 3) {
        my @pids = grep { /^\d+$/ } split /\s+/, `ip netns pids $ns 2>/dev/null`;
        last unless @pids;
        kill 'KILL', @pids;
        my $end = time + 5;
        sleep 0.05 while time < $end && grep { alive($_) } @pids;
    }
    system("ip netns del $ns >/dev/null 2>&1");
}


# leftovers of earlier runs (killed by SIGKILL, a crash...) over an hour old
sub cleanup_stale {
    my $now = time;
    for my $ns (our_namespaces(qr/^\Q$NS_PREFIX\E-(\d+)-\d+-/)) {
        my ($epoch) = $ns =~ /^\Q$NS_PREFIX\E-(\d+)-/;
        remove_namespace($ns) if $epoch < $now - $STALE;
    }
}


sub new {
    my ($class, %opt) = @_;
    my $self = bless { %opt }, $class;

    $self->{fallback} //= $ENV{KRAKEN_CLUSTER_FALLBACK} ? 1 : 0;
    $self->{id} = sprintf '%s-%d-%d', $NS_PREFIX, time, $$;
    $self->{base} = tempdir('kraken-cluster-XXXXXX', TMPDIR => 1,
                            CLEANUP => !$ENV{KRAKEN_KEEP});
    $self->{owner} = $$;
    $self->{nodes} = [];
    push @LIVE, $self;

    cleanup_stale();
    $self->prepare_prefixes;
    $self->setup_network;

    return $self;
}


sub ns { "$_[0]{id}-$_[1]" }
sub prefix { "$_[0]{base}/$_[1]" }
sub addr { $HOSTS{$_[1]}{addr} }
sub rpc_addr { $HOSTS{$_[1]}{rpc} }

# a front's RPC for the clients; an engine's, on the private network
sub url {
    my ($self, $host) = @_;
    my $a = $host =~ /^eng/ ? $HOSTS{$host}{rpc} : $HOSTS{$host}{addr};
    return "http://$a:$PORT/";
}
sub info_url { "http://$HOSTS{$_[1]}{rpc}:$PORT/kraken-info" }
sub fallback { $_[0]{fallback} }


# The configs of conf/cluster as they are, or with the fallback balancer
sub config_text {
    my ($self, $file) = @_;
    open my $fh, '<', "$KrakenTest::ROOT/conf/cluster/$file" or die "$file: $!";
    local $/;
    my $text = <$fh>;
    close $fh;

    if ($self->{fallback}) {
        $text =~ s/^(\s*)kraken_balance\s*;/$1hash \$kraken_room consistent;/mg;
        $text =~ s/^\s*proxy_set_header\s+X-Kraken-Place\s[^\n]*\n//mg;
        $text =~ s/^\s*kraken_placement\s+on\s*;[^\n]*\n//mg;
    }
    return $text;
}


sub prepare_prefixes {
    my ($self) = @_;
    for my $host (@NGINX_HOSTS) {
        my $p = $self->prefix($host);
        mkdir $p or die "$p: $!";
        mkdir "$p/$_" for qw(logs tmp modules conf conf/cluster);
        symlink $KrakenTest::MODULE, "$p/modules/ngx_kraken_module.so"
            or die "symlink: $!";
        symlink $KrakenTest::STREAM_MODULE, "$p/modules/ngx_stream_module.so"
            or die "symlink: $!";
        opendir my $dh, "$KrakenTest::ROOT/conf/cluster" or die $!;
        for my $f (grep { /\.(conf|inc)$/ } readdir $dh) {
            open my $out, '>', "$p/conf/cluster/$f" or die $!;
            print $out $self->config_text($f);
            close $out;
        }
        closedir $dh;
    }
}


# lan: two bridges, br0 the public network, br1 the private one; every
# host: a veth (eth0) whose other end is on br0, and one on br1 (eth1)
# for those with a private address
sub setup_network {
    my ($self) = @_;
    my $lan = $self->ns('lan');

    sh("ip netns add $lan");
    sh("ip -n $lan link set lo up");
    for my $br (qw(br0 br1)) {
        sh("ip -n $lan link add $br type bridge");
        sh("ip -n $lan link set $br up");
    }

    for my $host (sort keys %HOSTS) {
        my $ns = $self->ns($host);
        sh("ip netns add $ns");
        sh("ip -n $ns link set lo up");
        my @legs = ([ 'v', 'eth0', 'br0', $HOSTS{$host}{addr} ]);
        push @legs, [ 'w', 'eth1', 'br1', $HOSTS{$host}{rpc} ]
            if $HOSTS{$host}{rpc};
        for my $leg (@legs) {
            my ($pfx, $dev, $br, $addr) = @$leg;
            my $port = "$pfx-$host";
            sh("ip -n $lan link add $port type veth peer name $dev"
               . " netns $ns");
            sh("ip -n $lan link set $port master $br");
            sh("ip -n $lan link set $port up");
            sh("ip -n $ns addr add $addr/24 dev $dev");
            sh("ip -n $ns link set $dev up");
        }
    }
}


# a command run inside a host's namespace, as a string for sh
sub in_ns {
    my ($self, $host, $cmd) = @_;
    return "ip netns exec " . $self->ns($host) . " $cmd";
}


sub nginx_cmd {
    my ($self, $host, @args) = @_;
    my $p = $self->prefix($host);
    return $self->in_ns($host, "$KrakenTest::NGINX -p $p/"
                        . " -e $HOSTS{$host}{log}"
                        . " -c conf/cluster/$HOSTS{$host}{conf} @args");
}


# POST body to url from inside the client namespace (or the host $o{from}):
# (status, json, raw); $o{headers}: more request headers
sub http_post {
    my ($self, $url, $body, $timeout, %o) = @_;
    $timeout //= 5;
    $body =~ s/'/'\\''/g;
    my $h = join '', map { " -H '$_: $o{headers}{$_}'" }
                     sort keys %{ $o{headers} || {} };
    my $cmd = $self->in_ns($o{from} // 'client',
                           "curl -s -m $timeout -o - -w '\\n%{http_code}'"
                           . " -H 'Content-Type: application/json'$h"
                           . " --data-binary '$body' $url");
    my $out = `$cmd 2>/dev/null`;
    my ($raw, $status) = $out =~ /\A(.*)\n(\d+)\z/s;
    return (0, undef, $out) unless defined $status;
    my $json = eval { $JSON->decode($raw) };
    return ($status, $json, $raw);
}


# info of an engine (its own figures, per worker: the operator asks), or
# of a front's URL (a client asks)
sub info {
    my ($self, $host, %o) = @_;
    my $url = $o{url} // ($host =~ /^eng/ ? $self->info_url($host)
                                          : $self->url($host));
    my ($status, $json) = $self->http_post($url,
        '{"id":"cluster","method":"info","params":[]}', $o{timeout},
        from => $o{from} // ($host =~ /^eng/ ? 'ops' : 'client'));
    return $status == 200 && ref $json eq 'HASH' && ref $json->{data} eq 'HASH'
           ? $json->{data} : undef;
}


sub master_pid {
    my ($self, $host) = @_;
    open my $fh, '<', $self->prefix($host) . "/$HOSTS{$host}{pid}"
        or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    return alive($1) ? $1 : undef;
}


sub children {
    my ($parent) = @_;
    my @pids;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        push @pids, $pid if $stat && $stat =~ /^\d+ \(.*\) \S (\d+)/
                            && $1 == $parent;
    }
    closedir $dh;
    return sort { $a <=> $b } @pids;
}


# a process that runs (a zombie does not: nginx's master is a daemon,
# whoever reaps it may take its time)
sub alive {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;
    return $stat !~ /^\d+ \(.*\) [ZX] /;
}


sub worker_pids {
    my ($self, $host) = @_;
    my $m = $self->master_pid($host) or return ();
    return children($m);
}


sub error_log {
    my ($self, $host) = @_;
    open my $fh, '<', $self->prefix($host) . "/$HOSTS{$host}{log}" or return '';
    local $/;
    my $t = <$fh>;
    close $fh;
    return $t // '';
}


# starts nginx in its namespace; dies unless it answers info within 15 s
sub start {
    my ($self, $host) = @_;
    my $cmd = $self->nginx_cmd($host);
    my $out = `$cmd 2>&1`;
    die "$host: nginx did not start: $out\n" . KrakenTest::tail(
        $self->error_log($host), 20) if $? != 0;

    # (every try runs ip netns exec and curl: not too often, while the
    # clients of other rooms measure gaps on this machine's 2 cores)
    my $up;
    my $end = time + 15;
    until ($up || time > $end) {
        sleep 0.2;
        my @w = $self->worker_pids($host);
        $up = @w >= 2 && $self->info($host, timeout => 2);
    }
    die "$host: nginx does not answer\n"
        . KrakenTest::tail($self->error_log($host), 20) unless $up;
    $self->{started}{$host} = 1;
    return 1;
}


sub start_all {
    my ($self) = @_;
    $self->start($_) for @NGINX_HOSTS;
}


# graceful stop (QUIT, or $sig: TERM is nginx's fast shutdown), KILL
# after $seconds
sub stop {
    my ($self, $host, $seconds, $sig) = @_;
    my $m = $self->master_pid($host) or return 1;
    my @all = ($m, children($m));
    kill $sig // 'QUIT', $m;
    my $gone = KrakenTest::wait_for(sub { !grep { alive($_) } @all },
                                    $seconds // 10);
    kill 'KILL', grep { alive($_) } @all unless $gone;
    $self->{started}{$host} = 0;
    return $gone;
}


sub restart {
    my ($self, $host) = @_;
    my $t = time;
    $self->stop($host) or die "$host did not stop";
    my $t1 = time;
    $self->start($host);
    $self->{restart_times}{$host} = { stop => $t1 - $t, start => time - $t1 };
    return time - $t;
}


# kill -9 of the master and its workers at once; returns the pids
sub kill9 {
    my ($self, $host) = @_;
    my $m = $self->master_pid($host) or return ();
    my @all = ($m, children($m));
    kill 'KILL', @all;
    KrakenTest::wait_for(sub { !grep { alive($_) } @all }, 5);
    $self->{started}{$host} = 0;
    return @all;
}


# room -> [engine, ...] from each engine's own info; engine -> info
sub placement {
    my ($self, @engines) = @_;
    @engines = @ENGINES unless @engines;
    my (%where, %info);
    for my $e (@engines) {
        my $i = $self->info($e) or next;
        $info{$e} = $i;
        my %seen;
        for my $w (@{ $i->{workers} || [] }) {
            $seen{$_} = 1 for @{ $w->{rooms} || [] };
        }
        push @{ $where{$_} }, $e for keys %seen;
    }
    return (\%where, \%info);
}


# ---- node clients in the client namespace --------------------------------

# starts `node t/js/$script @args` in the client namespace with pipes for
# stdin and stdout (a line protocol), stderr to a file
sub node_start {
    my ($self, $script, @args) = @_;
    return $self->node_start_in('client', $script, @args);
}

# ... in the namespace of host $in (the client, or the operator)
sub node_start_in {
    my ($self, $in, $script, @args) = @_;
    pipe(my $in_r, my $in_w) or die "pipe: $!";
    pipe(my $out_r, my $out_w) or die "pipe: $!";
    my $err = "$self->{base}/node-" . scalar(@{ $self->{nodes} }) . ".err";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $in_w;
        close $out_r;
        open STDIN, '<&', $in_r or die $!;
        open STDOUT, '>&', $out_w or die $!;
        open STDERR, '>', $err or die $!;
        chdir "$KrakenTest::ROOT/t/js" or die $!;
        my @nice = $ENV{KRAKEN_CLUSTER_NICE}
                   ? ('nice', '-n', $ENV{KRAKEN_CLUSTER_NICE}) : ();
        exec 'ip', 'netns', 'exec', $self->ns($in), @nice, 'node',
             $script, @args or die "exec: $!";
    }
    close $in_r;
    close $out_w;
    $in_w->autoflush(1);

    my $h = { pid => $pid, in => $in_w, out => $out_r, err => $err,
              buf => '', text => '', name => "$script @args[0..0]",
              started => time };
    push @{ $self->{nodes} }, $h;
    return $h;
}


# the next whole line the node prints (undef at EOF or after $timeout)
sub node_line {
    my ($self, $h, $timeout) = @_;
    my $end = time + ($timeout // 60);
    my $sel = IO::Select->new($h->{out});
    while (1) {
        if ($h->{buf} =~ s/\A([^\n]*)\n//) {
            return $1;
        }
        return undef if $h->{eof};
        my $left = $end - time;
        return undef if $left <= 0;
        next unless $sel->can_read($left < 1 ? $left : 1);
        my $n = sysread $h->{out}, my $chunk, 65536;
        if (!$n) {
            $h->{eof} = 1;
            next;
        }
        $h->{buf} .= $chunk;
        $h->{text} .= $chunk;
    }
}


# the next JSON object line with a "phase" (or a summary), undef at EOF
sub node_phase {
    my ($self, $h, $timeout) = @_;
    my $end = time + ($timeout // 60);
    while (defined(my $line = $self->node_line($h, $end - time))) {
        my $j = eval { $JSON->decode($line) };
        return $j if ref $j eq 'HASH' && ($j->{phase} || $j->{checks});
    }
    return undef;
}


sub node_send {
    my ($self, $h, $data) = @_;
    local $SIG{PIPE} = 'IGNORE';
    print { $h->{in} } $JSON->encode($data), "\n";
}


# waits for the node to exit (KILL after $timeout): (rc, stdout, stderr,
# signal) as KrakenTest::node_once gives them
sub node_wait {
    my ($self, $h, $timeout) = @_;
    my $end = time + ($timeout // 60);
    my ($rc, $sig);
    close $h->{in} if $h->{in};
    $h->{in} = undef;
    while (1) {
        $self->node_line($h, 0.2) unless $h->{eof};     # keeps its stdout
        my $w = waitpid($h->{pid}, WNOHANG);
        if ($w == $h->{pid} || $w == -1) {
            $sig = $? & 127;
            $rc = $sig ? 128 + $sig : $? >> 8;
            $sig ||= $rc > 128 && $rc <= 192 ? $rc - 128 : 0;
            last;
        }
        if (time >= $end) {
            kill 'KILL', $h->{pid};
            waitpid($h->{pid}, 0);
            ($rc, $sig) = (124, 0);
            last;
        }
        sleep 0.1 if $h->{eof};
    }
    # the rest of its stdout
    my $drain = time + 2;
    $self->node_line($h, 0.2) while !$h->{eof} && time < $drain;
    $h->{done} = 1;

    my $err = '';
    if (open my $fh, '<', $h->{err}) {
        local $/;
        $err = <$fh> // '';
    }
    return ($rc, $h->{text}, $err, $sig);
}


sub node_kill {
    my ($self, $h) = @_;
    return if $h->{done};
    kill 'KILL', $h->{pid};
    waitpid($h->{pid}, 0);
    $h->{done} = 1;
}


sub teardown {
    my ($self) = @_;
    return if $self->{torn} || $self->{owner} != $$;
    $self->{torn} = 1;
    for my $h (@{ $self->{nodes} }) {
        $self->node_kill($h);
    }
    for my $host (@NGINX_HOSTS) {
        next unless $self->{started}{$host};
        $self->stop($host, 3, 'TERM');
    }
    remove_namespace($_)
        for our_namespaces(qr/^\Q$self->{id}\E-/);
}


sub DESTROY {
    my ($self) = @_;
    local ($?, $@);
    $self->teardown;
}


END {
    local ($?, $@);
    $_->teardown for @LIVE;
}

# an interrupted test still removes its namespaces (END runs on exit)
for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { print STDERR "KrakenCluster: SIG$sig, cleaning up\n";
                       exit 128 };
}

1;
