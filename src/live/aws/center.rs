//! IAM Identity Center over the AWS SDK: sso-admin for the instance, permission sets and
//! assignments, identitystore for users, groups and memberships. Every list is paged.
//!
//! `SessionDuration` is always sent: Identity Center returns it as an ISO 8601 string.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_sdk_identitystore::types::{
    AlternateIdentifier, AttributeOperation, Email, MemberId, Name, UniqueAttribute,
};
use aws_sdk_ssoadmin::types::{
    AccountAssignmentOperationStatus, CustomerManagedPolicyReference, PermissionsBoundary,
    PrincipalType, ProvisionTargetType, ProvisioningStatus, StatusValues, Tag, TargetType,
};
use aws_smithy_types::Document as Value;
use futures::{StreamExt, TryStreamExt};

use super::errors::{HopelessConnections, classify_call, is_loopback};
use crate::iam::OWNER_TAG;
use crate::live::center::{
    CenterApi, CenterCall, Instance, LiveAssignment, LiveBoundary, LivePermissionSet, Made,
    Membership, PrincipalKind, Request, SetDetails, Status, StoreGroup, StoreUser,
};
use crate::live::{ApiError, ErrorKind};
use crate::spec::identity_center::{PolicyReference, iso_duration, parse_iso_duration};

/// Identity Center's clients, counting their calls for `--stats`.
pub struct AwsCenter {
    sso: aws_sdk_ssoadmin::Client,
    store: aws_sdk_identitystore::Client,
    calls: Mutex<BTreeMap<&'static str, u64>>,
}

impl AwsCenter {
    pub fn new(config: &SdkConfig) -> Self {
        // As for IAM: a connection that cannot be made is not retried until the timeout.
        let hopeless = HopelessConnections {
            local: config.endpoint_url().is_some_and(is_loopback),
        };
        let sso = aws_sdk_ssoadmin::config::Builder::from(config).retry_classifier(hopeless);
        let store = aws_sdk_identitystore::config::Builder::from(config).retry_classifier(hopeless);
        Self {
            sso: aws_sdk_ssoadmin::Client::from_conf(sso.build()),
            store: aws_sdk_identitystore::Client::from_conf(store.build()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// How many calls were made, by API action.
    pub fn calls(&self) -> BTreeMap<&'static str, u64> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, action: &'static str) {
        if let Ok(mut calls) = self.calls.lock() {
            *calls.entry(action).or_default() += 1;
        }
    }
}

/// A read that finds nothing: `None` rather than an error.
fn absent<T>(result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(err) if err.kind == ErrorKind::NoSuchEntity => Ok(None),
        Err(err) => Err(err),
    }
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// A store user from what `ListUsers` and `DescribeUser` return alike (two SDK types with the
/// same accessors); `$name` when the answer carries no user name.
macro_rules! store_user {
    ($user:expr, $name:expr) => {{
        let user = $user;
        let emails = user.emails();
        StoreUser {
            id: user.user_id().to_owned(),
            name: user.user_name().unwrap_or($name).to_owned(),
            display_name: user.display_name().map(str::to_owned),
            given_name: user.name().and_then(|n| n.given_name()).map(str::to_owned),
            family_name: user.name().and_then(|n| n.family_name()).map(str::to_owned),
            email: emails
                .iter()
                .find(|e| e.primary())
                .or_else(|| emails.first())
                .and_then(|e| e.value().map(str::to_owned)),
            external: !user.external_ids().is_empty(),
        }
    }};
}

fn user_of(user: &aws_sdk_identitystore::types::User) -> StoreUser {
    store_user!(user, "")
}

fn group_of(group: &aws_sdk_identitystore::types::Group) -> StoreGroup {
    StoreGroup {
        id: group.group_id().to_owned(),
        name: group.display_name().unwrap_or_default().to_owned(),
        description: group.description().map(str::to_owned),
        external: !group.external_ids().is_empty(),
    }
}

fn principal_type(kind: PrincipalKind) -> PrincipalType {
    match kind {
        PrincipalKind::User => PrincipalType::User,
        PrincipalKind::Group => PrincipalType::Group,
    }
}

fn reference(reference: &PolicyReference) -> Result<CustomerManagedPolicyReference, ApiError> {
    CustomerManagedPolicyReference::builder()
        .name(&reference.name)
        .path(&reference.path)
        .build()
        .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))
}

fn status_of(
    status: Option<&StatusValues>,
    id: Option<&str>,
    reason: Option<&str>,
) -> (Status, String) {
    let id = id.unwrap_or_default().to_owned();
    let status = match status {
        Some(StatusValues::Succeeded) => Status::Succeeded,
        Some(StatusValues::Failed) => {
            Status::Failed(reason.unwrap_or("AWS gave no reason").to_owned())
        }
        _ => Status::InProgress(id.clone()),
    };
    (status, id)
}

fn assignment_status(status: Option<&AccountAssignmentOperationStatus>) -> (Status, String) {
    status_of(
        status.and_then(|s| s.status()),
        status.and_then(|s| s.request_id()),
        status.and_then(|s| s.failure_reason()),
    )
}

/// A request that is done at once needs no wait; one under way is waited for.
fn pending(request: Request, (status, id): (Status, String)) -> Result<Made, ApiError> {
    match status {
        Status::Succeeded => Ok(Made::Done),
        Status::InProgress(_) => Ok(Made::Pending(request, id)),
        Status::Failed(reason) => Err(ApiError::new(ErrorKind::Other, None, reason)),
    }
}

impl CenterApi for AwsCenter {
    async fn instances(&self) -> Result<Vec<Instance>, ApiError> {
        self.count("ListInstances");
        let pages: Vec<_> = self
            .sso
            .list_instances()
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListInstances"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_ssoadmin::operation::list_instances::ListInstancesOutput::instances)
            .map(|i| Instance {
                arn: i.instance_arn().unwrap_or_default().to_owned(),
                store: i.identity_store_id().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    async fn users(&self, store: &str) -> Result<Vec<StoreUser>, ApiError> {
        self.count("ListUsers");
        let pages: Vec<_> = self
            .store
            .list_users()
            .identity_store_id(store)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListUsers"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_identitystore::operation::list_users::ListUsersOutput::users)
            .map(user_of)
            .collect())
    }

    async fn groups(&self, store: &str) -> Result<Vec<StoreGroup>, ApiError> {
        self.count("ListGroups");
        let pages: Vec<_> = self
            .store
            .list_groups()
            .identity_store_id(store)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListGroups"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_identitystore::operation::list_groups::ListGroupsOutput::groups)
            .map(group_of)
            .collect())
    }

    async fn find_user(&self, store: &str, name: &str) -> Result<Option<StoreUser>, ApiError> {
        self.count("GetUserId");
        let unique = UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(text(name))
            .build()
            .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))?;
        let found = self
            .store
            .get_user_id()
            .identity_store_id(store)
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(unique))
            .send()
            .await
            .map_err(|e| classify_call(e, "GetUserId"));
        let Some(found) = absent(found)? else {
            return Ok(None);
        };
        self.count("DescribeUser");
        let user = self
            .store
            .describe_user()
            .identity_store_id(store)
            .user_id(found.user_id())
            .send()
            .await
            .map_err(|e| classify_call(e, "DescribeUser"))?;
        Ok(Some(store_user!(&user, name)))
    }

    async fn find_group(&self, store: &str, name: &str) -> Result<Option<StoreGroup>, ApiError> {
        self.count("GetGroupId");
        let unique = UniqueAttribute::builder()
            .attribute_path("displayName")
            .attribute_value(text(name))
            .build()
            .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))?;
        let found = self
            .store
            .get_group_id()
            .identity_store_id(store)
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(unique))
            .send()
            .await
            .map_err(|e| classify_call(e, "GetGroupId"));
        let Some(found) = absent(found)? else {
            return Ok(None);
        };
        self.count("DescribeGroup");
        let group = self
            .store
            .describe_group()
            .identity_store_id(store)
            .group_id(found.group_id())
            .send()
            .await
            .map_err(|e| classify_call(e, "DescribeGroup"))?;
        Ok(Some(StoreGroup {
            id: group.group_id().to_owned(),
            name: group.display_name().unwrap_or(name).to_owned(),
            description: group.description().map(str::to_owned),
            external: !group.external_ids().is_empty(),
        }))
    }

    async fn principal_name(
        &self,
        store: &str,
        kind: PrincipalKind,
        id: &str,
    ) -> Result<Option<String>, ApiError> {
        match kind {
            PrincipalKind::User => {
                self.count("DescribeUser");
                let user = self
                    .store
                    .describe_user()
                    .identity_store_id(store)
                    .user_id(id)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DescribeUser"));
                Ok(absent(user)?.and_then(|u| u.user_name().map(str::to_owned)))
            }
            PrincipalKind::Group => {
                self.count("DescribeGroup");
                let group = self
                    .store
                    .describe_group()
                    .identity_store_id(store)
                    .group_id(id)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DescribeGroup"));
                Ok(absent(group)?.and_then(|g| g.display_name().map(str::to_owned)))
            }
        }
    }

    async fn memberships(&self, store: &str, group_id: &str) -> Result<Vec<Membership>, ApiError> {
        self.count("ListGroupMemberships");
        let pages: Vec<_> = self
            .store
            .list_group_memberships()
            .identity_store_id(store)
            .group_id(group_id)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListGroupMemberships"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_identitystore::operation::list_group_memberships::ListGroupMembershipsOutput::group_memberships)
            .filter_map(|m| {
                let Some(MemberId::UserId(user)) = m.member_id() else {
                    return None;
                };
                Some(Membership {
                    id: m.membership_id().to_owned(),
                    group_id: m.group_id().unwrap_or(group_id).to_owned(),
                    user_id: user.clone(),
                })
            })
            .collect())
    }

    async fn permission_sets(&self, instance: &str) -> Result<Vec<LivePermissionSet>, ApiError> {
        self.count("ListPermissionSets");
        let pages: Vec<_> = self
            .sso
            .list_permission_sets()
            .instance_arn(instance)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListPermissionSets"))?;
        let arns: Vec<String> = pages
            .iter()
            .flat_map(aws_sdk_ssoadmin::operation::list_permission_sets::ListPermissionSetsOutput::permission_sets)
            .cloned()
            .collect();
        let described = futures::stream::iter(arns).map(|arn| async move {
            self.count("DescribePermissionSet");
            let out = self
                .sso
                .describe_permission_set()
                .instance_arn(instance)
                .permission_set_arn(&arn)
                .send()
                .await
                .map_err(|e| classify_call(e, "DescribePermissionSet"))?;
            let set = out.permission_set();
            Ok::<_, ApiError>(LivePermissionSet {
                name: set.and_then(|s| s.name()).unwrap_or_default().to_owned(),
                description: set.and_then(|s| s.description()).map(str::to_owned),
                session: set
                    .and_then(|s| s.session_duration())
                    .and_then(parse_iso_duration),
                arn,
                details: None,
                owner: None,
            })
        });
        described.buffered(8).try_collect().await
    }

    #[allow(clippy::too_many_lines)] // five reads side by side, each a few lines
    async fn details(&self, instance: &str, arn: &str) -> Result<SetDetails, ApiError> {
        let managed = async {
            self.count("ListManagedPoliciesInPermissionSet");
            let pages: Vec<_> = self
                .sso
                .list_managed_policies_in_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| classify_call(e, "ListManagedPoliciesInPermissionSet"))?;
            Ok::<_, ApiError>(
                pages
                    .iter()
                    .flat_map(aws_sdk_ssoadmin::operation::list_managed_policies_in_permission_set::ListManagedPoliciesInPermissionSetOutput::attached_managed_policies)
                    .filter_map(|p| p.arn().map(str::to_owned))
                    .collect(),
            )
        };
        let inline = async {
            self.count("GetInlinePolicyForPermissionSet");
            let out = self
                .sso
                .get_inline_policy_for_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .send()
                .await
                .map_err(|e| classify_call(e, "GetInlinePolicyForPermissionSet"))?;
            Ok::<_, ApiError>(
                out.inline_policy()
                    .filter(|p| !p.trim().is_empty())
                    .and_then(|p| serde_json::from_str(p).ok()),
            )
        };
        let customer = async {
            self.count("ListCustomerManagedPolicyReferencesInPermissionSet");
            let pages: Vec<_> = self
                .sso
                .list_customer_managed_policy_references_in_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    classify_call(e, "ListCustomerManagedPolicyReferencesInPermissionSet")
                })?;
            Ok::<_, ApiError>(
                pages
                    .iter()
                    .flat_map(aws_sdk_ssoadmin::operation::list_customer_managed_policy_references_in_permission_set::ListCustomerManagedPolicyReferencesInPermissionSetOutput::customer_managed_policy_references)
                    .map(|r| PolicyReference {
                        name: r.name().to_owned(),
                        path: r.path().unwrap_or("/").to_owned(),
                    })
                    .collect(),
            )
        };
        let boundary = async {
            self.count("GetPermissionsBoundaryForPermissionSet");
            let out = self
                .sso
                .get_permissions_boundary_for_permission_set()
                .instance_arn(instance)
                .permission_set_arn(arn)
                .send()
                .await
                .map_err(|e| classify_call(e, "GetPermissionsBoundaryForPermissionSet"));
            Ok::<_, ApiError>(absent(out)?.and_then(|o| {
                let b = o.permissions_boundary()?;
                if let Some(arn) = b.managed_policy_arn() {
                    return Some(LiveBoundary::Managed(arn.to_owned()));
                }
                let r = b.customer_managed_policy_reference()?;
                Some(LiveBoundary::Customer(PolicyReference {
                    name: r.name().to_owned(),
                    path: r.path().unwrap_or("/").to_owned(),
                }))
            }))
        };
        // Where it is provisioned, and where an out-of-date version of it runs.
        let accounts = self.provisioned(instance, arn, None);
        let outdated = self.provisioned(
            instance,
            arn,
            Some(ProvisioningStatus::LatestPermissionSetNotProvisioned),
        );
        let (managed, inline, customer, boundary, accounts, outdated) =
            futures::try_join!(managed, inline, customer, boundary, accounts, outdated)?;
        Ok(SetDetails {
            managed,
            inline,
            customer,
            boundary,
            accounts,
            outdated,
        })
    }

    async fn owner(&self, instance: &str, arn: &str) -> Result<Option<String>, ApiError> {
        self.count("ListTagsForResource");
        let pages: Vec<_> = self
            .sso
            .list_tags_for_resource()
            .instance_arn(instance)
            .resource_arn(arn)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListTagsForResource"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_ssoadmin::operation::list_tags_for_resource::ListTagsForResourceOutput::tags)
            .find(|t| t.key() == OWNER_TAG)
            .map(|t| t.value().to_owned()))
    }

    async fn assignments(
        &self,
        instance: &str,
        account: &str,
        arn: &str,
    ) -> Result<Vec<LiveAssignment>, ApiError> {
        self.count("ListAccountAssignments");
        let pages: Vec<_> = self
            .sso
            .list_account_assignments()
            .instance_arn(instance)
            .account_id(account)
            .permission_set_arn(arn)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListAccountAssignments"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_ssoadmin::operation::list_account_assignments::ListAccountAssignmentsOutput::account_assignments)
            .filter_map(|a| {
                let kind = match a.principal_type()? {
                    PrincipalType::User => PrincipalKind::User,
                    PrincipalType::Group => PrincipalKind::Group,
                    _ => return None,
                };
                Some(LiveAssignment {
                    permission_set: a.permission_set_arn().unwrap_or(arn).to_owned(),
                    account: a.account_id().unwrap_or(account).to_owned(),
                    kind,
                    principal: a.principal_id()?.to_owned(),
                })
            })
            .collect())
    }

    async fn call(&self, instance: &Instance, call: &CenterCall) -> Result<Made, ApiError> {
        if let Some(made) = self.store_call(&instance.store, call).await? {
            return Ok(made);
        }
        self.sso_call(&instance.arn, call).await
    }

    async fn status(&self, instance: &str, request: Request, id: &str) -> Result<Status, ApiError> {
        let (status, _) = match request {
            Request::Assignment => {
                self.count("DescribeAccountAssignmentCreationStatus");
                let out = self
                    .sso
                    .describe_account_assignment_creation_status()
                    .instance_arn(instance)
                    .account_assignment_creation_request_id(id)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DescribeAccountAssignmentCreationStatus"))?;
                assignment_status(out.account_assignment_creation_status())
            }
            Request::Unassignment => {
                self.count("DescribeAccountAssignmentDeletionStatus");
                let out = self
                    .sso
                    .describe_account_assignment_deletion_status()
                    .instance_arn(instance)
                    .account_assignment_deletion_request_id(id)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DescribeAccountAssignmentDeletionStatus"))?;
                assignment_status(out.account_assignment_deletion_status())
            }
            Request::Provisioning => {
                self.count("DescribePermissionSetProvisioningStatus");
                let out = self
                    .sso
                    .describe_permission_set_provisioning_status()
                    .instance_arn(instance)
                    .provision_permission_set_request_id(id)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DescribePermissionSetProvisioningStatus"))?;
                let s = out.permission_set_provisioning_status();
                status_of(
                    s.and_then(|s| s.status()),
                    s.and_then(|s| s.request_id()),
                    s.and_then(|s| s.failure_reason()),
                )
            }
        };
        Ok(status)
    }
}

/// The `iamspec:owner` tag iamspec marks its permission sets with.
fn owner_tag(owner: &str) -> Result<Tag, ApiError> {
    Tag::builder()
        .key(OWNER_TAG)
        .value(owner)
        .build()
        .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))
}

impl AwsCenter {
    /// The accounts a permission set is provisioned to, those in `status` only when given
    /// (`ListAccountsForProvisionedPermissionSet`, paged).
    async fn provisioned(
        &self,
        instance: &str,
        arn: &str,
        status: Option<ProvisioningStatus>,
    ) -> Result<std::collections::BTreeSet<String>, ApiError> {
        self.count("ListAccountsForProvisionedPermissionSet");
        let pages: Vec<_> = self
            .sso
            .list_accounts_for_provisioned_permission_set()
            .instance_arn(instance)
            .permission_set_arn(arn)
            .set_provisioning_status(status)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_call(e, "ListAccountsForProvisionedPermissionSet"))?;
        Ok(pages
            .iter()
            .flat_map(aws_sdk_ssoadmin::operation::list_accounts_for_provisioned_permission_set::ListAccountsForProvisionedPermissionSetOutput::account_ids)
            .cloned()
            .collect())
    }

    /// The identity store's calls; `None` for a call that is sso-admin's.
    #[allow(clippy::too_many_lines)] // one arm a call, each a few lines
    async fn store_call(&self, store: &str, call: &CenterCall) -> Result<Option<Made>, ApiError> {
        let s = &self.store;
        let made = match call {
            CenterCall::CreateGroup { name, description } => {
                self.count("CreateGroup");
                let out = s
                    .create_group()
                    .identity_store_id(store)
                    .display_name(name)
                    .set_description(description.clone())
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "CreateGroup"))?;
                Made::Created(out.group_id().to_owned())
            }
            CenterCall::UpdateGroup { id, description } => {
                self.count("UpdateGroup");
                let value = description.as_deref().map_or(Value::Null, text);
                let op = AttributeOperation::builder()
                    .attribute_path("description")
                    .attribute_value(value)
                    .build()
                    .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))?;
                s.update_group()
                    .identity_store_id(store)
                    .group_id(id)
                    .operations(op)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "UpdateGroup"))?;
                Made::Done
            }
            CenterCall::DeleteGroup { id } => {
                self.count("DeleteGroup");
                let out = s
                    .delete_group()
                    .identity_store_id(store)
                    .group_id(id)
                    .send()
                    .await;
                absent(out.map_err(|e| classify_call(e, "DeleteGroup")))?;
                Made::Done
            }
            CenterCall::CreateUser { user } => {
                self.count("CreateUser");
                let out = s
                    .create_user()
                    .identity_store_id(store)
                    .user_name(&user.name)
                    .set_display_name(user.display_name.clone())
                    .name(
                        Name::builder()
                            .set_given_name(user.given_name.clone())
                            .set_family_name(user.family_name.clone())
                            .build(),
                    )
                    .set_emails(user.email.as_ref().map(|e| {
                        vec![
                            Email::builder()
                                .value(e)
                                .primary(true)
                                .r#type("work")
                                .build(),
                        ]
                    }))
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "CreateUser"))?;
                Made::Created(out.user_id().to_owned())
            }
            CenterCall::UpdateUser { user } => {
                self.count("UpdateUser");
                let mut ops = Vec::new();
                let mut set = |path: &str, value: Option<&String>| -> Result<(), ApiError> {
                    let op = AttributeOperation::builder()
                        .attribute_path(path)
                        .attribute_value(value.map_or(Value::Null, |v| text(v)))
                        .build()
                        .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))?;
                    ops.push(op);
                    Ok(())
                };
                set("displayName", user.display_name.as_ref())?;
                set("name.givenName", user.given_name.as_ref())?;
                set("name.familyName", user.family_name.as_ref())?;
                let emails = user.email.as_ref().map_or(Value::Array(Vec::new()), |e| {
                    let mut email = std::collections::HashMap::new();
                    email.insert("value".to_owned(), text(e));
                    email.insert("primary".to_owned(), Value::Bool(true));
                    email.insert("type".to_owned(), text("work"));
                    Value::Array(vec![Value::Object(email)])
                });
                ops.push(
                    AttributeOperation::builder()
                        .attribute_path("emails")
                        .attribute_value(emails)
                        .build()
                        .map_err(|e| ApiError::new(ErrorKind::Other, None, e.to_string()))?,
                );
                s.update_user()
                    .identity_store_id(store)
                    .user_id(&user.id)
                    .set_operations(Some(ops))
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "UpdateUser"))?;
                Made::Done
            }
            CenterCall::DeleteUser { id } => {
                self.count("DeleteUser");
                let out = s
                    .delete_user()
                    .identity_store_id(store)
                    .user_id(id)
                    .send()
                    .await;
                absent(out.map_err(|e| classify_call(e, "DeleteUser")))?;
                Made::Done
            }
            CenterCall::AddMember { group_id, user_id } => {
                self.count("CreateGroupMembership");
                let out = s
                    .create_group_membership()
                    .identity_store_id(store)
                    .group_id(group_id)
                    .member_id(MemberId::UserId(user_id.clone()))
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "CreateGroupMembership"))?;
                Made::Created(out.membership_id().to_owned())
            }
            CenterCall::RemoveMember { membership_id } => {
                self.count("DeleteGroupMembership");
                let out = s
                    .delete_group_membership()
                    .identity_store_id(store)
                    .membership_id(membership_id)
                    .send()
                    .await;
                absent(out.map_err(|e| classify_call(e, "DeleteGroupMembership")))?;
                Made::Done
            }
            _ => return Ok(None),
        };
        Ok(Some(made))
    }

    /// sso-admin's calls.
    #[allow(clippy::too_many_lines)] // one arm a call, each a few lines
    async fn sso_call(&self, instance: &str, call: &CenterCall) -> Result<Made, ApiError> {
        let s = &self.sso;
        let done = |r: Result<(), ApiError>| r.map(|()| Made::Done);
        match call {
            CenterCall::CreatePermissionSet {
                name,
                description,
                session,
                owner,
            } => {
                self.count("CreatePermissionSet");
                let tag = owner_tag(owner)?;
                let out = s
                    .create_permission_set()
                    .instance_arn(instance)
                    .name(name)
                    .set_description(description.clone())
                    .session_duration(iso_duration(*session))
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "CreatePermissionSet"))?;
                let arn = out
                    .permission_set()
                    .and_then(|p| p.permission_set_arn())
                    .unwrap_or_default();
                Ok(Made::Created(arn.to_owned()))
            }
            CenterCall::UpdatePermissionSet {
                arn,
                description,
                session,
            } => {
                self.count("UpdatePermissionSet");
                let out = s
                    .update_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .set_description(description.clone())
                    .session_duration(iso_duration(*session))
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "UpdatePermissionSet")),
                )
            }
            CenterCall::DeletePermissionSet { arn } => {
                self.count("DeletePermissionSet");
                let out = s
                    .delete_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .send()
                    .await;
                absent(out.map_err(|e| classify_call(e, "DeletePermissionSet")))?;
                Ok(Made::Done)
            }
            CenterCall::AttachManaged { arn, policy } => {
                self.count("AttachManagedPolicyToPermissionSet");
                let out = s
                    .attach_managed_policy_to_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .managed_policy_arn(policy)
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "AttachManagedPolicyToPermissionSet")),
                )
            }
            CenterCall::DetachManaged { arn, policy } => {
                self.count("DetachManagedPolicyFromPermissionSet");
                let out = s
                    .detach_managed_policy_from_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .managed_policy_arn(policy)
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "DetachManagedPolicyFromPermissionSet")),
                )
            }
            CenterCall::PutInline { arn, document } => {
                self.count("PutInlinePolicyToPermissionSet");
                let out = s
                    .put_inline_policy_to_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .inline_policy(document)
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "PutInlinePolicyToPermissionSet")),
                )
            }
            CenterCall::DeleteInline { arn } => {
                self.count("DeleteInlinePolicyFromPermissionSet");
                let out = s
                    .delete_inline_policy_from_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "DeleteInlinePolicyFromPermissionSet")),
                )
            }
            CenterCall::AttachCustomer { arn, reference: r } => {
                self.count("AttachCustomerManagedPolicyReferenceToPermissionSet");
                let out = s
                    .attach_customer_managed_policy_reference_to_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .customer_managed_policy_reference(reference(r)?)
                    .send()
                    .await;
                done(out.map(|_| ()).map_err(|e| {
                    classify_call(e, "AttachCustomerManagedPolicyReferenceToPermissionSet")
                }))
            }
            CenterCall::DetachCustomer { arn, reference: r } => {
                self.count("DetachCustomerManagedPolicyReferenceFromPermissionSet");
                let out = s
                    .detach_customer_managed_policy_reference_from_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .customer_managed_policy_reference(reference(r)?)
                    .send()
                    .await;
                done(out.map(|_| ()).map_err(|e| {
                    classify_call(e, "DetachCustomerManagedPolicyReferenceFromPermissionSet")
                }))
            }
            CenterCall::PutBoundary { arn, boundary } => {
                self.count("PutPermissionsBoundaryToPermissionSet");
                let b = match boundary {
                    LiveBoundary::Managed(policy) => {
                        PermissionsBoundary::builder().managed_policy_arn(policy)
                    }
                    LiveBoundary::Customer(r) => PermissionsBoundary::builder()
                        .customer_managed_policy_reference(reference(r)?),
                };
                let out = s
                    .put_permissions_boundary_to_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .permissions_boundary(b.build())
                    .send()
                    .await;
                done(
                    out.map(|_| ())
                        .map_err(|e| classify_call(e, "PutPermissionsBoundaryToPermissionSet")),
                )
            }
            CenterCall::DeleteBoundary { arn } => {
                self.count("DeletePermissionsBoundaryFromPermissionSet");
                let out = s
                    .delete_permissions_boundary_from_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .send()
                    .await;
                done(
                    out.map(|_| ()).map_err(|e| {
                        classify_call(e, "DeletePermissionsBoundaryFromPermissionSet")
                    }),
                )
            }
            CenterCall::TagPermissionSet { arn, owner } => {
                self.count("TagResource");
                let tag = owner_tag(owner)?;
                let out = s
                    .tag_resource()
                    .instance_arn(instance)
                    .resource_arn(arn)
                    .tags(tag)
                    .send()
                    .await;
                done(out.map(|_| ()).map_err(|e| classify_call(e, "TagResource")))
            }
            CenterCall::Provision { arn, account } => {
                self.count("ProvisionPermissionSet");
                let target = match account {
                    Some(_) => ProvisionTargetType::AwsAccount,
                    None => ProvisionTargetType::AllProvisionedAccounts,
                };
                let out = s
                    .provision_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .target_type(target)
                    .set_target_id(account.clone())
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "ProvisionPermissionSet"))?;
                let st = out.permission_set_provisioning_status();
                pending(
                    Request::Provisioning,
                    status_of(
                        st.and_then(|s| s.status()),
                        st.and_then(|s| s.request_id()),
                        st.and_then(|s| s.failure_reason()),
                    ),
                )
            }
            CenterCall::Assign(a) => {
                self.count("CreateAccountAssignment");
                let out = s
                    .create_account_assignment()
                    .instance_arn(instance)
                    .target_id(&a.account)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(&a.permission_set)
                    .principal_type(principal_type(a.kind))
                    .principal_id(&a.principal)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "CreateAccountAssignment"))?;
                pending(
                    Request::Assignment,
                    assignment_status(out.account_assignment_creation_status()),
                )
            }
            CenterCall::Unassign(a) => {
                self.count("DeleteAccountAssignment");
                let out = s
                    .delete_account_assignment()
                    .instance_arn(instance)
                    .target_id(&a.account)
                    .target_type(TargetType::AwsAccount)
                    .permission_set_arn(&a.permission_set)
                    .principal_type(principal_type(a.kind))
                    .principal_id(&a.principal)
                    .send()
                    .await
                    .map_err(|e| classify_call(e, "DeleteAccountAssignment"))?;
                pending(
                    Request::Unassignment,
                    assignment_status(out.account_assignment_deletion_status()),
                )
            }
            _ => Err(ApiError::new(
                ErrorKind::Other,
                None,
                "an identity store call reached sso-admin",
            )),
        }
    }
}
