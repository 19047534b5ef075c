// The ec2 provider: machines from Amazon EC2 (or any endpoint that speaks its Query
// API, e.g. moto in the tests), through POSTs signed with AWS SigV4 by libcurl (the
// signing the S3 remote uses), with the credentials and region found as the AWS CLI
// finds them (data/s3.hpp).
//
// Ephemeral (the default): RunInstances with the lease's tags in the same call
// (wms:lease, wms:owner, Name), ClientToken = the lease id (a retried call cannot start
// a second machine on AWS), InstanceInitiatedShutdownBehavior=terminate and user-data
// that runs `shutdown -h +N` at boot for the hard deadline: an instance whose controller
// vanished still ends itself, and ending is terminating. Stop is TerminateInstances.
// Named: one instance the team keeps (instance_id): StartInstances and the lease's tags
// at start, StopInstances at stop. A stopped instance still costs its EBS volumes
// (stopped_cost_per_hour is shown by `wms infra leases` and in the stop's log).
// Every call is retried on throttling, 5xx and transport errors with jittered backoff.
// The worker runs on the instance over ssh (infra.ec2.ssh: like infra.ssh, to the
// instance's address).
//
//   infra:
//     provider: ec2
//     cost_per_hour: 0.526              # the instance type's on-demand price
//     ec2:
//       region: eu-west-1               # default: AWS_REGION, AWS_DEFAULT_REGION, the profile
//       image_id: ami-0abcdef1234567890 # an image with wms installed
//       instance_type: g4dn.xlarge
//       subnet_id: subnet-...           # optional; security_group_ids: [sg-...], key_name: ...
//       instance_id: i-...              # named mode instead of image_id
//       stopped_cost_per_hour: 0.011    # named mode: the disk of a stopped instance
//       endpoint: https://ec2.eu-west-1.amazonaws.com   # default from the region
//       profile: default                # credentials; default as the AWS CLI
//       ssh: {user: ubuntu, identity_file: ~/.ssh/wms.pem, known_hosts: ~/.ssh/known_hosts}
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "wms/infra/provider.hpp"
#include "wms/infra/ssh.hpp"
#include "wms/util/config.hpp"

namespace wms::infra {

struct Ec2Options {
  std::string region, endpoint, profile;
  std::string image_id, instance_type = "t3.micro", subnet_id, key_name, instance_id;
  std::vector<std::string> security_group_ids;
  double stopped_cost_per_hour = 0;
  int retries = 4;
  double connect_timeout = 10, read_timeout = 60;
  SshOptions ssh;  ///< hosts unused: the instance's address
};

/// Reads infra.ec2.*; throws InvalidInput naming the key.
Ec2Options ec2_options(const util::Config& config);

std::unique_ptr<Provider> make_ec2_provider(const Ec2Options& o);

}  // namespace wms::infra
