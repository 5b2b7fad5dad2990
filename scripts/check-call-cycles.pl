#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# scripts/check-call-cycles.pl DIR...: which .c (or .cc) file uses which
# other file's functions (the dependency graph of the files under the DIRs),
# and whether two or more files use each other in a loop; exit 1 when they
# do.  A definition is a function name at the start of a line followed by
# "(", the return type on the line above, as both the module and the
# consumer write them; a "static" one belongs to its file alone, and so does
# a C++ one without extern "C" (C cannot call it).  Uses through macros
# defined in headers are not seen.
#   scripts/check-call-cycles.pl ngx_http_track_module
#   scripts/check-call-cycles.pl consumer/common consumer/track-consumer consumer/track-stats
use strict;
use warnings;

my @dirs = @ARGV or die "usage: $0 DIR...\n";
my @files = sort map { glob("$_/*.c $_/*.cc") } @dirs;

my (%text, %owner, %twice, %static);
for my $f (@files) {
    open(my $in, '<', $f) or die "$f: $!\n";
    local $/;
    my $src = <$in>;
    # comments and literals out: names in them are not uses
    $src =~ s{/\*.*?\*/}{ }gs;
    $src =~ s{//[^\n]*}{}g;
    $src =~ s{"(?:\\.|[^"\\\n])*"}{""}g;
    $src =~ s{'(?:\\.|[^'\\\n])*'}{''}g;
    $text{$f} = $src;
    while ($src =~ /^([^\n]*)\n([A-Za-z_]\w*)\(/mg) {
        my ($type, $name) = ($1, $2);
        next if $type =~ /^\s*$/ || $type =~ /[;{}]\s*$/;
        if ($type =~ /^static\b/ || ($f =~ /\.cc$/ && $type !~ /^extern\b/)) {
            $static{$f}{$name} = 1;
        } elsif (exists $owner{$name} && $owner{$name} ne $f) {
            $twice{$name} = 1;                  # main() of each program
        } else {
            $owner{$name} = $f;
        }
    }
}
delete @owner{ keys %twice };

my %uses;   # "$from\0$to" => { name => 1 }
for my $f (@files) {
    for my $name ($text{$f} =~ /\b([A-Za-z_]\w*)\b/g) {
        my $to = $owner{$name};
        next if !defined $to || $to eq $f || $static{$f}{$name};
        $uses{"$f\0$to"}{$name} = 1;
    }
}
my %next;
for (sort keys %uses) {
    my ($from, $to) = split /\0/;
    push @{ $next{$from} }, $to;
    printf "%s -> %s: %s\n", $from, $to, join(', ', sort keys %{ $uses{$_} });
}

# strongly connected components (Tarjan): a component of two or more files
# is a loop
my ($n, %index, %low, @stack, %on, @loops) = (0);
sub visit {
    my ($v) = @_;
    $index{$v} = $low{$v} = $n++;
    push @stack, $v;
    $on{$v} = 1;
    for my $w (@{ $next{$v} || [] }) {
        if (!exists $index{$w}) {
            visit($w);
            $low{$v} = $low{$w} if $low{$w} < $low{$v};
        } elsif ($on{$w} && $index{$w} < $low{$v}) {
            $low{$v} = $index{$w};
        }
    }
    return if $low{$v} != $index{$v};
    my @c;
    while (1) {
        my $w = pop @stack;
        delete $on{$w};
        push @c, $w;
        last if $w eq $v;
    }
    push @loops, [sort @c] if @c > 1;
}
exists $index{$_} or visit($_) for @files;

print @loops ? scalar(@loops) . " loop(s):\n" : "no loops\n";
for my $c (@loops) {
    print '  among ', join(', ', @$c), "\n";
    for my $a (@$c) {
        for my $b (@$c) {
            my $u = $uses{"$a\0$b"} or next;
            printf "    %s -> %s: %s\n", $a, $b, join(', ', sort keys %$u);
        }
    }
}
exit(@loops ? 1 : 0);
