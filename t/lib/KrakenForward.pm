package KrakenForward;

# Helpers for the tests of call forwarding between workers (t/033-t/035):
# which worker holds which slot, where the workers' forwarding sockets
# listen, a process of another user, and a squatter that tries to take
# the sockets' names. Core Perl only; the squatter needs root to drop to
# another uid.

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

use KrakenTest;

# a uid and gid that no nginx process runs as (the workers are nobody)
our $STRANGER = 4242;

my $JSON = JSON::PP->new->canonical;


# { slot => pid } of the live workers: from info when it lists the
# workers, else from the workers' start-up lines in the error log.
sub slot_pids {
    my ($k) = @_;
    my %live = map { $_ => 1 } $k->worker_pids;
    my %slot;

    my (undef, $info) = $k->rpc('info', [], fresh => 1);
    for my $w (@{ ($info && $info->{data}{workers}) || [] }) {
        $slot{$w->{slot}} = $w->{pid} if $live{$w->{pid}};
    }
    return \%slot if keys %slot == keys %live;

    %slot = ();
    for (split /\n/, $k->error_log) {
        if (/ (\d+)#\d+: kraken: worker \d+ \(slot (\d+)\)/
            || / (\d+)#\d+: kraken: slot (\d+) takes forwarded calls/)
        {
            $slot{$2} = $1 if $live{$1};
        }
    }

    return \%slot;
}


# { pid => [names] }: the abstract unix sockets named ngx_kraken* that
# each of @pids listens on (names without the leading NUL).
sub listeners {
    my (@pids) = @_;
    my (%name, %out);

    open my $fh, '<', '/proc/net/unix' or return {};
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        # Num RefCount Protocol Flags Type St Inode Path: listening
        next unless @f >= 8 && $f[3] eq '00010000' && $f[5] eq '01';
        $name{$f[6]} = substr($f[7], 1) if $f[7] =~ /^\@ngx_kraken/;
    }
    close $fh;

    for my $pid (@pids) {
        opendir my $dh, "/proc/$pid/fd" or next;
        for my $fd (readdir $dh) {
            my $l = readlink "/proc/$pid/fd/$fd";
            next unless defined $l && $l =~ /^socket:\[(\d+)\]$/;
            push @{ $out{$pid} }, $name{$1} if defined $name{$1};
        }
        closedir $dh;
    }

    return \%out;
}


# Runs $code in a child process as $uid (gid $uid, no other groups) and
# returns what it returned, as a string.
sub as_user {
    my ($uid, $code) = @_;

    my $child = open(my $fh, '-|') // die "fork: $!";
    if ($child == 0) {
        my $out = eval {
            drop_to($uid);
            $code->();
        };
        $out = "error: $@" unless defined $out;
        print $out;
        close STDOUT;
        POSIX::_exit(0);    # no DESTROY: the parent owns nginx
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return $out;
}


sub drop_to {
    my ($uid) = @_;
    $) = "$uid $uid";
    POSIX::setgid($uid) or die "setgid: $!";
    POSIX::setuid($uid) or die "setuid: $!";
    die "still uid $<\n" unless $< == $uid && $> == $uid;
}


# One forwarded-call frame to socket $name; the bytes of the reply, or
# undef when the connection was refused. Gives up after $seconds.
sub call_socket {
    my ($name, $body, $seconds) = @_;

    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
                                  Peer => "\0$name") or return undef;
    my $reply = '';

    local $SIG{PIPE} = 'IGNORE';
    local $SIG{ALRM} = sub { die "alarm\n" };
    alarm($seconds // 5);
    eval {
        print $s 'KRK1' . pack('N', length $body) . $body;
        while (sysread($s, my $buf, 65536)) {
            $reply .= $buf;
        }
    };
    alarm(0);
    close $s;

    return $reply;
}


# A process of uid $STRANGER that tries to take the workers' socket names:
#  - "ngx_kraken.<pid>" for the next pids the kernel will hand out (the
#    names a new worker would have taken before the names were random);
#  - any ngx_kraken name listed in /proc/net/unix, as soon as it is free
#    (the name of a worker that just died);
# and accepts on all of them, counting the bytes that reach it.
# Returns a handle for squatter_stats() and squatter_stop().
sub squatter {
    my (%o) = @_;
    my $window = $o{window} // 300;
    my $dir = tempdir('kraken-squat-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0777, $dir;
    my $parent = $$;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval { squat($dir, $window, $parent, $o{seconds} // 300) };
        POSIX::_exit(0);
    }

    return { pid => $pid, dir => $dir };
}


sub squat {
    my ($dir, $window, $parent, $seconds) = @_;
    my $stop = 0;
    local $SIG{TERM} = sub { $stop = 1 };

    drop_to($STRANGER);

    my (%held, %predicted, %seen);
    my $sel = IO::Select->new;
    my %st = (uid => $<, predicted => 0, grabbed => [], accepted => 0,
              captured => 0, held => 0);
    my $end = time + $seconds;
    my $saved = 0;

    my $take = sub {
        my ($name) = @_;
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
                                      Local => "\0$name", Listen => 16)
            or return 0;
        $s->blocking(0);
        $held{$name} = $s;
        $sel->add($s);
        return 1;
    };

    while (!$stop && time < $end && getppid() == $parent) {

        # the pids to come
        if (open my $fh, '<', '/proc/sys/kernel/ns_last_pid') {
            my $last = <$fh> // 0;
            close $fh;
            chomp $last;
            for my $p ($last + 1 .. $last + $window) {
                my $n = "ngx_kraken.$p";
                next if $held{$n};
                $st{predicted}++ if $take->($n);
                $predicted{$n} = $p if $held{$n};
            }
            # names of pids already handed out are of no use any more
            for my $n (keys %predicted) {
                next if $predicted{$n} > $last - 20;
                $sel->remove($held{$n});
                close delete $held{$n};
                delete $predicted{$n};
                delete $seen{$n};
            }
        }

        # the names in use, the moment they are free
        if (open my $fh, '<', '/proc/net/unix') {
            while (my $line = <$fh>) {
                next unless $line =~ / \@(ngx_kraken\S*)\s*$/;
                $seen{$1} = 1 unless $held{$1};
            }
            close $fh;
        }

        for my $n (keys %seen) {
            next if $held{$n};
            if ($take->($n)) {
                push @{ $st{grabbed} }, $n;
                delete $seen{$n};
            }
        }

        # whatever reaches a squatted name
        for my $s ($sel->can_read(0.02)) {
            my $c = $s->accept or next;
            $st{accepted}++;
            my $csel = IO::Select->new($c);
            while ($csel->can_read(0.2)) {
                my $n = sysread($c, my $buf, 65536);
                last unless $n;
                $st{captured} += $n;
            }
            close $c;
        }

        $st{held} = scalar keys %held;
        if (time - $saved > 0.1) {
            save_stats($dir, \%st);
            $saved = time;
        }
    }

    save_stats($dir, \%st);
}


sub save_stats {
    my ($dir, $st) = @_;
    open my $fh, '>', "$dir/stats.tmp" or return;
    print $fh $JSON->encode($st);
    close $fh;
    rename "$dir/stats.tmp", "$dir/stats.json";
}


sub squatter_stats {
    my ($sq) = @_;
    open my $fh, '<', "$sq->{dir}/stats.json" or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    return eval { $JSON->decode($text) };
}


sub squatter_stop {
    my ($sq) = @_;
    return squatter_stats($sq) unless $sq->{pid};
    kill 'TERM', $sq->{pid};
    my $gone = KrakenTest::wait_for(sub {
        waitpid($sq->{pid}, WNOHANG) == $sq->{pid}
    }, 5);
    unless ($gone) {
        kill 'KILL', $sq->{pid};
        waitpid($sq->{pid}, 0);
    }
    $sq->{pid} = 0;
    return squatter_stats($sq);
}


# Calls `list` for $room on fresh connections until one is forwarded (it
# landed on another worker than the owner) and answered; returns that
# answer {status, json, worker}, or undef at the deadline.
sub forwarded_call {
    my ($k, $room, $seconds) = @_;
    my $last;

    my $ok = KrakenTest::wait_for(sub {
        my $res = $k->http(fresh => 1)->request('POST', $k->url, {
            headers => { 'Content-Type' => 'application/json' },
            content => $JSON->encode({ id => 'fwd', method => 'list',
                                       params => [$room] }) });
        my $json = eval { $JSON->decode($res->{content}) };
        $last = { status => $res->{status}, json => $json,
                  worker => $res->{headers}{'x-kraken-worker'} // '' };
        return $last->{worker} =~ /forwarded/ && $json
               && exists $json->{data};
    }, $seconds // 10);

    return $ok ? $last : undef;
}


# A process that times `list` calls for $room, one at a time on fresh
# connections every 50 ms, until probe_stop() returns what it saw:
# {calls, answered, max_ms, codes (error code or "data" -> count),
# workers (X-Kraken-Worker -> count)}.
sub probe_start {
    my ($k, $room) = @_;
    my $dir = tempdir('kraken-probe-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $parent = $$;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $stop = 0;
        local $SIG{TERM} = sub { $stop = 1 };
        my %r = (calls => 0, answered => 0, max_ms => 0, codes => {},
                 workers => {});
        my $body = $JSON->encode({ id => 'probe', method => 'list',
                                   params => [$room] });

        while (!$stop && getppid() == $parent) {
            my $t0 = time;
            $r{inflight_since} = $t0;
            save_stats($dir, \%r);
            my $res = HTTP::Tiny->new(timeout => 30)->request('POST',
                $k->url, { headers => { 'Content-Type'
                                        => 'application/json' },
                           content => $body });
            my $ms = (time - $t0) * 1000;
            my $json = eval { $JSON->decode($res->{content}) };
            delete $r{inflight_since};

            $r{calls}++;
            $r{max_ms} = $ms if $ms > $r{max_ms};
            if ($json) {
                $r{answered}++;
                $r{codes}{ref $json->{error} ? $json->{error}{code}
                                             : 'data'}++;
                $r{workers}{$res->{headers}{'x-kraken-worker'} // ''}++;
            } else {
                $r{codes}{"HTTP $res->{status}"}++;
            }
            sleep 0.05;
        }

        save_stats($dir, \%r);
        POSIX::_exit(0);
    }

    return { pid => $pid, dir => $dir };
}


sub probe_stop {
    my ($p) = @_;
    my $now = time;
    my $r = squatter_stop($p) or return undef;

    # killed while it waited: that call counts, unanswered
    if (my $since = delete $r->{inflight_since}) {
        $r->{calls}++;
        $r->{unanswered}++;
        my $ms = ($now - $since) * 1000;
        $r->{max_ms} = $ms if $ms > $r->{max_ms};
    }

    return $r;
}


# Rooms named "$prefix-N" by the slot that owns them: { slot => [rooms] }.
sub rooms_by_slot {
    my ($k, $prefix, $count) = @_;
    my %by;

    for my $i (1 .. $count) {
        my $room = "$prefix-$i";
        my $res = $k->http(fresh => 1)->request('POST', $k->url, {
            headers => { 'Content-Type' => 'application/json' },
            content => $JSON->encode({ id => 'where', method => 'list',
                                       params => [$room] }) });
        my ($slot) = ($res->{headers}{'x-kraken-worker'} // '') =~ /^(\d+)/;
        push @{ $by{$slot} }, $room if defined $slot;
    }

    return \%by;
}


1;
